"""hwnas.Dataset, hwnas.train, hwnas.Model, hwnas.load_model, hwnas.import_torch
and hwnas.LookupTable on the shared data, against the hwnas program."""

import json

import numpy as np
import pytest

import hwnas
from conftest import MAX_ARCH, MIN_ARCH, data_path


@pytest.fixture(scope="module")
def ofa():
    return hwnas.Dataset.read_csv(str(data_path("help-ofa/ofa_gpu_latency.csv")), hwnas.space("ofa-mbv3"))


def test_dataset(ofa):
    assert len(ofa) == 5000
    assert "titan_xp_1" in ofa.columns
    assert ofa.ids.dtype == np.int64 and ofa.ids[0] == 0
    y = ofa.column("titan_xp_1")
    assert y.shape == (5000,) and np.all(y > 0)
    assert len(ofa.archs) == 5000 and ofa.space == hwnas.space("ofa-mbv3")
    with pytest.raises(hwnas.InvalidArgument, match="unknown device column 'pixel9'"):
        ofa.column("pixel9")


def test_csv_files_of_other_tools(ofa, tmp_path):
    """Python's csv module quoting every field, and pandas' default to_csv()
    (its unnamed index first), read as the original rows."""
    import csv

    source = data_path("help-ofa/ofa_gpu_latency.csv")
    with open(source, newline="") as f:
        rows = list(csv.reader(f))[:51]
    quoted = tmp_path / "quoted.csv"
    with open(quoted, "w", newline="") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL).writerows(rows)
    assert quoted.read_text().startswith('"id","')
    plain = tmp_path / "plain.csv"
    with open(plain, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    space = hwnas.space("ofa-mbv3")
    want = hwnas.Dataset.read_csv(str(plain), space)
    got = hwnas.Dataset.read_csv(str(quoted), space)
    assert got.archs == want.archs and list(got.ids) == list(want.ids) and got.columns == want.columns
    assert np.array_equal(got.column("v100_64"), want.column("v100_64"))

    pandas = pytest.importorskip("pandas")
    pandas.read_csv(plain).to_csv(tmp_path / "pandas.csv")  # the default: the index first, unnamed
    assert (tmp_path / "pandas.csv").read_text().startswith(",id,")
    got = hwnas.Dataset.read_csv(str(tmp_path / "pandas.csv"), space)
    assert got.archs == want.archs and list(got.ids) == list(want.ids)
    assert np.allclose(got.column("v100_64"), want.column("v100_64"), rtol=1e-15, atol=0)


def test_train_predict_save_load_match_the_program(ofa, cli, tmp_path):
    model, report = hwnas.train(ofa, target="titan_xp_1", recipe="default", seed=0, epochs=5)
    assert report["n_train"] == 3500 and report["n_test"] == 750 and report["recipe"] == "default"
    assert 0 < report["test"]["rmse_pct"] < 20
    path = tmp_path / "py.hwnas"
    model.save(str(path))
    # The program, given the same data, recipe, seed and epochs, writes the same model file.
    cli_model = tmp_path / "cli.hwnas"
    trained = cli("train", "--data", ofa_path(), "--target", "titan_xp_1", "--epochs", 5, "-o", cli_model)
    assert trained["test"] == report["test"]
    assert path.read_bytes() == cli_model.read_bytes()

    archs = hwnas.space("ofa-mbv3").sample(20, seed=9)
    (tmp_path / "archs.json").write_text(json.dumps(archs))
    expected = cli("predict", "--model", cli_model, "--arch", f"@{tmp_path / 'archs.json'}")["predictions"]
    assert model.predict(archs).tolist() == expected
    assert hwnas.load_model(str(path)).predict(archs).tolist() == expected
    assert model.predict(archs[3]) == expected[3]
    # A dataset's rows in their order.
    assert np.array_equal(model.predict(ofa)[:20], model.predict(ofa.archs[:20]))
    ev = model.evaluate(ofa, target="titan_xp_1")
    assert ev["test"] == report["test"]
    assert ev["test"] == cli("eval", "--model", cli_model, "--data", ofa_path(), "--target", "titan_xp_1")["test"]


def ofa_path():
    return str(data_path("help-ofa/ofa_gpu_latency.csv"))


def test_fbnet_training():
    f = hwnas.space("fbnet")
    data = hwnas.Dataset.read_csv(str(data_path("help-fbnet/fbnet_latency.csv")), f)
    assert len(data) == 5000 and len(data.archs[0]) == 22
    model, report = hwnas.train(data, target="1080ti_1", epochs=3)
    assert model.space == f
    assert report["test"]["spearman"] > 0.9
    assert isinstance(model.predict(data.archs[0]), float)


def test_lookup_table_gives_the_reference_vectors():
    lut = hwnas.LookupTable.read(str(data_path("note10-lut")), hwnas.space("ofa-mbv3", width=1.2))
    assert lut.resolutions[0] == 160 and lut.resolutions[-1] == 224
    # ofa-reference.md §4.7
    y = lut.predict([MAX_ARCH, MIN_ARCH])
    assert y.round(4).tolist() == [92.3980, 9.8903]
    with pytest.raises(hwnas.InvalidArgument, match="no table for resolution 128"):
        lut.predict({**MIN_ARCH, "r": [128]})


def test_imported_accuracy_predictor_matches_the_program(cli, tmp_path):
    npy = data_path("ofa-acc-predictor")
    w12 = hwnas.space("ofa-mbv3", width=1.2)
    acc = hwnas.import_torch(str(npy), w12)
    cli("import-torch", "--npy", npy, "--space", "ofa-mbv3", "--width", 1.2, "-o", tmp_path / "acc.hwnas")
    archs = w12.sample(10, seed=1)
    (tmp_path / "a.json").write_text(json.dumps(archs))
    expected = cli("predict", "--model", tmp_path / "acc.hwnas", "--arch", f"@{tmp_path / 'a.json'}")["predictions"]
    assert acc.predict(archs).tolist() == expected
    assert all(0.6 < a < 0.85 for a in expected)  # ImageNet top-1 of OFA's sub-networks


def test_errors(ofa, tmp_path):
    model, _ = hwnas.train(ofa, target="titan_xp_1", epochs=1)
    with pytest.raises(hwnas.InvalidArgument, match="the model takes 0 hardware features, given 2"):
        model.predict(MIN_ARCH, hardware=[1.0, 2.0])
    with pytest.raises(hwnas.InvalidArgument, match=r"archs\[0\]: expected OFA's spec"):
        model.predict([["k3_e1"] * 22])
    with pytest.raises(hwnas.InvalidArgument, match="unknown recipe 'fast'"):
        hwnas.train(ofa, target="titan_xp_1", recipe="fast")
    with pytest.raises(hwnas.InvalidArgument, match="split 'all'"):
        hwnas.train(ofa, target="titan_xp_1", split="all")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,op0\n0,k3_e1\n")
    with pytest.raises(hwnas.FormatError) as e:
        hwnas.Dataset.read_csv(str(bad), hwnas.space("fbnet"))
    assert e.value.file == str(bad) and e.value.line == 1
    broken = tmp_path / "broken.hwnas"
    broken.write_bytes(b"not a model")
    with pytest.raises(hwnas.FormatError, match="broken.hwnas"):
        hwnas.load_model(str(broken))
    with pytest.raises(hwnas.IoError):
        model.save(str(tmp_path / "no" / "such" / "dir" / "m.hwnas"))
