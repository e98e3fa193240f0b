"""hwnas.search with models, lookup tables and Python callables."""

import json
import math

import pytest

import hwnas
from conftest import data_path

W12 = dict(width=1.2, resolutions=[160, 176, 192, 208, 224])


@pytest.fixture(scope="module")
def inputs():
    space = hwnas.space("compofa-fixed", **W12)
    lut = hwnas.LookupTable.read(str(data_path("note10-lut")), space)
    acc = hwnas.import_torch(str(data_path("ofa-acc-predictor")), hwnas.space("ofa-mbv3", width=1.2))
    return space, lut, acc


def test_search_matches_the_program(inputs, cli, tmp_path):
    space, lut, acc = inputs
    r = hwnas.search(space, latency=lut, accuracy=acc, budgets=[20, 30], seed=3, generations=60)
    acc.save(str(tmp_path / "acc.hwnas"))
    expected = cli("search", "--space", "compofa-fixed", "--width", 1.2, "--resolutions", "160,176,192,208,224",
                   "--latency", f"lut:{data_path('note10-lut')}", "--accuracy", f"model:{tmp_path / 'acc.hwnas'}",
                   "--budget", "20,30", "--seed", 3, "--generations", 60)
    for got, want in zip(r["results"], expected["results"]):
        assert got["arch"] == want["arch"]
        assert (got["budget"], got["accuracy"], got["latency"], got["macs"]) == (
            want["budget"], want["accuracy"], want["latency"], want["macs"])
        assert got["latency"] <= got["budget"]
        assert len(got["history"]) == 60 and got["history"][-1] == got["accuracy"]
    assert r["evaluations"] == expected["evaluations"]
    assert len(r["pareto"]) == expected["pareto_size"]


def test_a_callable_scores_like_the_model_it_wraps(inputs):
    space, lut, acc = inputs
    batches = []

    def accuracy(archs):
        batches.append([space.hash(a) for a in archs])
        return acc.predict(archs)

    args = dict(latency=lut, budgets=[25], seed=1, generations=30)
    with_model = hwnas.search(space, accuracy=acc, **args)
    with_callable = hwnas.search(space, accuracy=accuracy, **args)
    assert with_callable["results"][0]["arch"] == with_model["results"][0]["arch"]
    assert with_callable["results"][0]["accuracy"] == with_model["results"][0]["accuracy"]
    # One batch per generation (the first is the first population's 100
    # members, some of them the same network) of the networks not scored
    # before: none is sent twice, not even within a batch.
    sent = [h for batch in batches for h in batch]
    assert len(batches) == 30 and 50 < len(batches[0]) <= 100
    assert len(set(sent)) == len(sent) == with_callable["accuracy_evaluations"] == with_model["accuracy_evaluations"]

    # A latency callable: the lookup table's sums through Python.
    via_python = hwnas.search(space, accuracy=acc, latency=lambda archs: lut.predict(archs), budgets=[25], seed=1,
                              generations=30)
    assert via_python["results"][0]["arch"] == with_model["results"][0]["arch"]


def test_fbnet_search_with_python_scores():
    f = hwnas.space("fbnet")
    n_skip = lambda a: sum(op == "skip" for op in a)  # noqa: E731
    r = hwnas.search(f, latency=lambda archs: [22.0 - n_skip(a) for a in archs],
                     accuracy=lambda archs: [float(sum(op.startswith("k5") for op in a)) for a in archs],
                     budgets=[12], generations=40, seed=0)
    best = r["results"][0]
    assert 22 - n_skip(best["arch"]) <= 12 and best["macs"] > 0
    assert best["accuracy"] == sum(op.startswith("k5") for op in best["arch"])


def test_search_errors(inputs):
    space, lut, acc = inputs
    with pytest.raises(KeyError, match="boom"):  # the callable's own exception
        hwnas.search(space, latency=lut, accuracy=lambda a: {}["boom"], budgets=[25], generations=2)
    with pytest.raises(hwnas.InvalidArgument, match="returned 1 values for [0-9]+ architectures"):
        hwnas.search(space, latency=lut, accuracy=lambda a: [0.5], budgets=[25], generations=2)
    with pytest.raises(hwnas.InvalidArgument, match="returned nan for architecture 0"):
        hwnas.search(space, latency=lut, accuracy=lambda a: [math.nan] * len(a), budgets=[25], generations=2)
    with pytest.raises(hwnas.InvalidArgument, match="returned str, expected a sequence of numbers"):
        hwnas.search(space, latency=lut, accuracy=lambda a: "x", budgets=[25], generations=2)
    with pytest.raises(hwnas.InvalidArgument, match="expected a hwnas.Model, a hwnas.LookupTable or a callable"):
        hwnas.search(space, latency=42, accuracy=acc, budgets=[25])
    w10 = hwnas.space("ofa-mbv3")
    with pytest.raises(hwnas.InvalidArgument, match="does not hold every network of the searched space"):
        hwnas.search(w10, latency=lut, accuracy=acc, budgets=[25])
    with pytest.raises(hwnas.InvalidArgument, match="lookup table is of another kind of space"):
        hwnas.search(hwnas.space("fbnet"), latency=lut, accuracy=acc, budgets=[25])
