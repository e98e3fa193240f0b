"""hwnas.train_devices, hwnas.DeviceModel and hwnas.adapt on HELP's FBNet
devices, against the hwnas program."""

import pytest

import hwnas
from conftest import data_path

BASES = ["1080ti_1", "titanx_1", "silver_4114", "samsung_a50"]


@pytest.fixture(scope="module")
def fbnet():
    return hwnas.Dataset.read_csv(str(data_path("help-fbnet/fbnet_latency.csv")), hwnas.space("fbnet"))


@pytest.fixture(scope="module")
def reference():
    path = data_path("help-fbnet/reference_arch_ids.txt")
    return path, [int(line) for line in path.read_text().split()]


def test_train_devices_and_adapt_match_the_program(fbnet, reference, cli, tmp_path):
    ref_file, ref_ids = reference
    model, report = hwnas.train_devices(fbnet, devices=BASES, reference_ids=ref_ids, epochs=3)
    assert model.devices == BASES and len(model.reference) == 10
    model.save(str(tmp_path / "py.hwnas"))
    cli_report = cli("train", "--space", "fbnet", "--data", fbnet_csv(), "--devices", ",".join(BASES),
                     "--descriptor", "fingerprint", "--reference", ref_file, "--epochs", 3, "-o", tmp_path / "cli.hwnas")
    assert report["test"] == cli_report["test"]
    assert (tmp_path / "py.hwnas").read_bytes() == (tmp_path / "cli.hwnas").read_bytes()
    loaded = hwnas.load_model(str(tmp_path / "py.hwnas"))
    assert isinstance(loaded, hwnas.DeviceModel)
    archs = fbnet.archs[:5]
    assert loaded.predict(archs, device="titanx_1").tolist() == model.predict(archs, device="titanx_1").tolist()

    # Pixel 3, a device the model never saw: its fingerprint and 10 samples.
    adapted, rep = hwnas.adapt(model, fbnet, target="pixel3", samples=10, seed=1)
    expected = cli("adapt", "--base", tmp_path / "cli.hwnas", "--data", fbnet_csv(), "--target", "pixel3",
                   "--samples", 10, "--seed", 1, "-o", tmp_path / "pixel3.hwnas")
    assert rep["sample_ids"] == expected["sample_ids"] and rep["strategy"] == expected["strategy"]
    assert rep["test"] == expected["test"] and rep["n_test"] == expected["n_test"]
    assert adapted.predict(archs).tolist() == hwnas.load_model(str(tmp_path / "pixel3.hwnas")).predict(archs).tolist()
    # The same samples given by id.
    again, rep2 = hwnas.adapt(model, fbnet, target="pixel3", sample_ids=rep["sample_ids"], seed=1)
    assert rep2["test"] == rep["test"]


def fbnet_csv():
    return str(data_path("help-fbnet/fbnet_latency.csv"))


def test_errors(fbnet, reference):
    _, ref_ids = reference
    model, _ = hwnas.train_devices(fbnet, devices=BASES[:2], reference_ids=ref_ids, epochs=1)
    with pytest.raises(hwnas.InvalidArgument, match="'pixel3' is not a device of the model"):
        model.predict(fbnet.archs[0], device="pixel3")
    with pytest.raises(hwnas.InvalidArgument, match="samples=N .* or sample_ids"):
        hwnas.adapt(model, fbnet, target="pixel3", samples=3, sample_ids=[1, 2, 3])
    test_id = int(fbnet.ids[0])  # id % 20 == 0: a test row of the benchmark split
    with pytest.raises(hwnas.InvalidArgument, match=f"sample id {test_id} is a test row"):
        hwnas.adapt(model, fbnet, target="pixel3", sample_ids=[test_id])
    with pytest.raises(hwnas.InvalidArgument, match="unknown device column 'pixel9'"):
        hwnas.adapt(model, fbnet, target="pixel9", samples=5)
    with pytest.raises(hwnas.InvalidArgument, match="no reference_ids"):
        hwnas.train_devices(fbnet, devices=BASES, reference_ids=[])
