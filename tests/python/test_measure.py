"""hwnas.measure, hwnas.build_lut and their parts (time_networks,
time_lut_keys, DatasetBuild, LutBuild) against the hwnas program's builds;
spaces pickled for workers. Timings differ between runs; ids, architectures,
keys and the files' shape must not."""

import csv
import os
import pickle
import signal
import threading
import time

import pytest

import hwnas

QUICK = dict(warmup=1, repeats=2)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def arch_columns(row):
    return {k: v for k, v in row.items() if not k.startswith("latency")}


@pytest.fixture
def small():
    return hwnas.space("ofa-mbv3", resolutions=[128])


@pytest.mark.parametrize("name", ["ofa-mbv3", "compofa-fixed", "compofa-elastic", "ofa-proxyless", "fbnet"])
def test_spaces_survive_pickling(name):
    space = hwnas.space(name) if name == "fbnet" else hwnas.space(name, width=1.2, resolutions=[160, 224])
    back = pickle.loads(pickle.dumps(space))
    assert back == space and repr(back) == repr(space)
    assert back.sample(5, seed=3) == space.sample(5, seed=3)


def test_measure_builds_the_programs_rows(tmp_path, cli, small):
    cli("measure", "--resolutions", 128, "--n", 6, "--seed", 3, "--warmup", 1, "--repeats", 2,
        "-o", tmp_path / "cli.csv")
    seen = []
    data = hwnas.measure(small, 6, seed=3, output=str(tmp_path / "py.csv"), progress=seen.append, **QUICK)
    assert len(data) == 6 and list(data.ids) == list(range(6))
    assert data.columns == ["latency", "latency_mean", "latency_p90", "latency_std", "latency_runs"]
    ours, theirs = rows(tmp_path / "py.csv"), rows(tmp_path / "cli.csv")
    assert [arch_columns(r) for r in ours] == [arch_columns(r) for r in theirs]
    assert all(float(r["latency"]) > 0 and r["latency_runs"] == "2" for r in ours)
    assert [p["done"] for p in seen] == [1, 2, 3, 4, 5, 6] and all(p["total"] == 6 for p in seen)
    # The program resumes the module's build (same record, same rows).
    assert cli("measure", "--resolutions", 128, "--n", 8, "--seed", 3, "--warmup", 1, "--repeats", 2,
               "-o", tmp_path / "py.csv", "--resume")["measured"] == 2


def test_measure_stops_and_resumes(tmp_path, small):
    out = str(tmp_path / "m.csv")
    first = hwnas.measure(small, 5, output=out, progress=lambda p: p["done"] == 2, **QUICK)
    assert len(first) == 2
    kept = rows(out)
    with pytest.raises(hwnas.IoError, match="pass resume=True"):
        hwnas.measure(small, 5, output=out, **QUICK)
    with pytest.raises(hwnas.InvalidArgument, match="with repeats 2, this build has repeats 3"):
        hwnas.measure(small, 5, output=out, resume=True, warmup=1, repeats=3)
    done = hwnas.measure(small, 5, output=out, resume=True, **QUICK)
    assert sorted(done.ids) == list(range(5))
    assert rows(out)[:2] == kept  # finished rows are not measured again


def test_ctrl_c_stops_after_the_current_row(tmp_path, small):
    # SIGINT arrives while C++ measures without the GIL, as Ctrl-C would:
    # the build stops after that row, not after the whole build.
    out = tmp_path / "c.csv"
    n = 40

    def press_ctrl_c():
        while not (out.exists() and len(rows(out)) >= 2):
            time.sleep(0.005)
        os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    with pytest.raises(KeyboardInterrupt):
        hwnas.measure(small, n, output=str(out), **QUICK)
    presser.join()
    kept = [int(r["id"]) for r in rows(out)]
    assert 2 <= len(kept) < n and kept == list(range(len(kept)))  # the finished rows, written
    assert len(hwnas.measure(small, n, output=str(out), resume=True, **QUICK)) == n


def test_dataset_build_takes_rows_timed_elsewhere(tmp_path, small):
    out = str(tmp_path / "d.csv")
    build = hwnas.DatasetBuild(small, out, n=4, seed=1, **QUICK)
    assert build.missing == [0, 1, 2, 3] and build.resumed == 0
    archs = build.archs([2, 0])
    stats = hwnas.time_networks(small, archs, **QUICK)
    assert [sorted(s) for s in stats] == [["count", "discarded", "max", "mean", "median", "min", "p90", "std"]] * 2
    assert all(s["min"] <= s["median"] <= s["max"] and s["count"] + s["discarded"] == 2 for s in stats)
    build.add(2, stats[0])
    build.add(0, stats[1])
    assert build.missing == [1, 3]
    with pytest.raises(hwnas.InvalidArgument, match="row id 2 is in .* already"):
        build.add(2, stats[0])
    with pytest.raises(hwnas.InvalidArgument, match="outside this build of 4 rows"):
        build.add(4, stats[0])
    with pytest.raises(hwnas.InvalidArgument, match="field 'p90' is missing"):
        build.add(1, {"median": 1, "mean": 1, "std": 0, "count": 2})
    with pytest.raises(hwnas.InvalidArgument, match="field 'median' must be a finite"):
        build.add(1, dict(stats[0], median=float("nan")))
    # Reopened: the two rows are kept, the same architectures come back.
    again = hwnas.DatasetBuild(small, out, n=4, seed=1, **QUICK)
    assert again.resumed == 2 and again.missing == [1, 3] and again.archs([2, 0]) == archs
    full = hwnas.measure(small, 4, seed=1, output=str(tmp_path / "full.csv"), **QUICK)
    assert full.archs == build.archs([0, 1, 2, 3])


def test_build_lut_matches_the_programs_keys(tmp_path, cli):
    fbnet = hwnas.space("fbnet")
    cli("lut", "build", "--space", "fbnet", "--warmup", 0, "--repeats", 1, "-o", tmp_path / "cli")
    table = hwnas.build_lut(fbnet, str(tmp_path / "py"), warmup=0, repeats=1)
    assert table.resolutions == [32]
    ours = (tmp_path / "py" / "32_lookup_table.yaml").read_text()
    theirs = (tmp_path / "cli" / "32_lookup_table.yaml").read_text()
    keys = lambda text: [line for line in text.splitlines() if not line.startswith(" ")]
    assert keys(ours) == keys(theirs) and len(keys(ours)) == 106
    arch = fbnet.sample(seed=2)
    assert table.predict(arch) > 0


def test_lut_build_takes_keys_timed_elsewhere(tmp_path):
    fbnet = hwnas.space("fbnet")
    out = str(tmp_path / "lut")
    build = hwnas.LutBuild(fbnet, out, warmup=0, repeats=1)
    assert build.total == 106 and build.resumed == 0 and len(build.missing) == 106
    keys = build.missing[:3]
    for key, stats in zip(keys, hwnas.time_lut_keys(fbnet, keys, warmup=0, repeats=1)):
        build.add(*key, stats)
    assert len(build.missing) == 103
    with pytest.raises(hwnas.InvalidArgument, match="is not a layer key"):
        build.add(32, "conv-nonsense", {"median": 1, "mean": 1, "p90": 1, "std": 0, "count": 1})
    with pytest.raises(hwnas.InvalidArgument, match="resolution 64 is not in this build"):
        build.add(64, keys[0][1], {"median": 1, "mean": 1, "p90": 1, "std": 0, "count": 1})
    with pytest.raises(hwnas.InvalidArgument, match="is not a layer key"):
        hwnas.time_lut_keys(fbnet, [(32, "conv-nonsense")])
    rest = hwnas.build_lut(fbnet, out, warmup=0, repeats=1, resume=True)
    assert hwnas.LutBuild(fbnet, out, warmup=0, repeats=1).resumed == 106
    assert rest.resolutions == [32]


def test_measurement_errors_name_their_field(tmp_path, small):
    with pytest.raises(hwnas.InvalidArgument, match="executor: expected cpu, torch-cpu or torch-cuda, found 'tpu'"):
        hwnas.measure(small, 2, output=str(tmp_path / "x.csv"), executor="tpu")
    with pytest.raises(hwnas.InvalidArgument, match="repeats: must be at least 1"):
        hwnas.time_networks(small, small.sample(seed=0), repeats=0)
    with pytest.raises(hwnas.InvalidArgument, match="batch: must be at least 1"):
        hwnas.time_networks(small, small.sample(seed=0), batch=0)
    with pytest.raises(hwnas.InvalidArgument, match=r"archs\[1\]"):
        hwnas.time_networks(small, [small.sample(seed=0), {"ks": [3]}])
    no_layers = tmp_path / "space.json"
    no_layers.write_text('{"name": "toy", "decisions": [{"name": "op", "labels": ["a", "b"]}]}')
    with pytest.raises(hwnas.InvalidArgument, match="measure: space 'toy' has no layer list"):
        hwnas.measure(hwnas.space(str(no_layers)), 2, output=str(tmp_path / "y.csv"))
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "y.csv").exists()
    if "torch-cpu" not in hwnas.executors:
        with pytest.raises(hwnas.InvalidArgument, match="executor torch-cpu: this hwnas was built without libtorch"):
            hwnas.time_networks(small, small.sample(seed=0), executor="torch-cpu")
