"""hwnas.space and hwnas.Space: presets, FBNet, JSON definitions, checks."""

import json

import numpy as np
import pytest

import hwnas
from conftest import MAX_ARCH, MIN_ARCH


def test_presets_and_counts():
    s = hwnas.space("ofa-mbv3", width=1.2, resolutions=[160, 176, 192, 208, 224])
    assert (s.kind, s.name, s.width, s.resolutions) == ("mbconv", "ofa-mbv3", 1.2, [160, 176, 192, 208, 224])
    # Per stage: 3^2*9 + 9^3*... = sum over d of 9^d for d in {2,3,4}: 7371; five stages, five resolutions.
    assert s.count() == 7371**5 * 5
    assert s.dim == 128
    assert hwnas.space("ofa-mbv3") == hwnas.space("ofa-mbv3", width=1.0)
    assert not hwnas.space("ofa-mbv3") == s


def test_macs_match_the_reference_vectors():
    # ofa-reference.md §4.7: analytic MACs of the largest and smallest networks.
    w10, w12 = hwnas.space("ofa-mbv3"), hwnas.space("ofa-mbv3", width=1.2)
    assert round(w10.macs(MAX_ARCH) / 1e3) == 566171
    assert round(w10.macs(MIN_ARCH) / 1e3) == 63241
    assert round(w12.macs(MAX_ARCH) / 1e3) == 843101
    assert round(w12.macs(MIN_ARCH) / 1e3) == 100321


def test_sample_is_deterministic_and_valid():
    s = hwnas.space("compofa-elastic")
    a = s.sample(5, seed=3)
    assert a == s.sample(5, seed=3)
    assert a != s.sample(5, seed=4)
    for arch in a:
        s.validate(arch)
        assert set(arch) == {"ks", "e", "d", "r"}
    one = s.sample(seed=3)
    assert one == a[0]
    child = s.mutate(one, seed=1, probability=1.0)
    assert s.is_valid(child)
    assert s.is_valid(s.crossover(a[0], a[1], seed=2))
    assert s.hash(one) == s.hash(dict(one))
    # NumPy arrays and integers, and r as a plain int, are the same spec.
    as_numpy = {"ks": np.array(one["ks"]), "e": np.array(one["e"]), "d": np.array(one["d"]), "r": np.int64(one["r"][0])}
    assert s.hash(as_numpy) == s.hash(one)


def test_fbnet_architectures_are_lists_of_operations():
    f = hwnas.space("fbnet")
    assert f.kind == "categorical" and f.width is None and f.has_layers
    assert len(f.decisions) == 22
    assert f.decisions[0][1] == ["k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip"]
    assert f.count() == 9**22
    a = f.sample(seed=7)
    assert len(a) == 22 and all(isinstance(op, str) for op in a)
    f.validate(a)
    # A network of skips only: the stem and head's MACs alone are fewer.
    assert f.macs(["skip"] * 22) < f.macs(a)
    enc = f.encode([a])
    assert enc.shape == (1, f.dim) and enc.sum() == 22


def test_encode_matches_the_program(cli, tmp_path):
    s = hwnas.space("ofa-mbv3")
    archs = s.sample(3, seed=5)
    (tmp_path / "a.json").write_text(json.dumps(archs))
    expected = cli("encode", "--arch", f"@{tmp_path / 'a.json'}")
    assert np.array_equal(s.encode(archs), np.array(expected["encodings"]))


def test_space_from_a_json_definition(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({
        "name": "tiny",
        "decisions": [
            {"name": "width", "choices": [32, 64]},
            {"name": "op", "choices": [0, 1, 2], "labels": ["conv", "pool", "skip"]},
        ],
    }))
    s = hwnas.space(str(path))
    assert s.name == "tiny" and s.count() == 6 and not s.has_layers
    assert s.is_valid([64, "pool"]) and s.is_valid([32, 2])
    assert s.sample(seed=0) in [[w, op] for w in (32, 64) for op in ("conv", "pool", "skip")]
    with pytest.raises(hwnas.InvalidArgument, match="macs: space 'tiny' has no layer list"):
        s.macs([32, "conv"])


def test_errors_name_the_field():
    s = hwnas.space("ofa-mbv3")
    with pytest.raises(hwnas.InvalidArgument, match="r = 100 not in allowed set"):
        s.validate({**MIN_ARCH, "r": [100]})
    with pytest.raises(hwnas.InvalidArgument, match="missing field 'd'"):
        s.validate({"ks": [3] * 20, "e": [3] * 20, "r": [160]})
    with pytest.raises(hwnas.InvalidArgument, match=r"field 'ks\[2\]': expected an integer, found '7'"):
        s.validate({**MIN_ARCH, "ks": [3, 3, "7"] + [3] * 17})
    with pytest.raises(hwnas.InvalidArgument, match="unknown field 'k'"):
        s.validate({**MIN_ARCH, "k": 1})
    with pytest.raises(hwnas.InvalidArgument, match=r"archs\[1\]: "):
        s.encode([MIN_ARCH, {**MIN_ARCH, "d": [5] * 5}])
    f = hwnas.space("fbnet")
    with pytest.raises(hwnas.InvalidArgument, match=r"decision 'op3' \(index 3\): 'k9' is not one of its choices"):
        f.validate(["skip"] * 3 + ["k9"] + ["skip"] * 18)
    with pytest.raises(ValueError):  # every InvalidArgument is a ValueError too
        f.validate(["skip"] * 21)
    with pytest.raises(hwnas.InvalidArgument, match="unknown"):
        hwnas.space("ofa-mbv4")
    with pytest.raises(hwnas.InvalidArgument, match="no width or resolutions"):
        hwnas.space("fbnet", width=1.2)
    with pytest.raises(hwnas.IoError):
        hwnas.space("/nonexistent/space.json")
    assert issubclass(hwnas.IoError, OSError) and issubclass(hwnas.FormatError, hwnas.Error)
