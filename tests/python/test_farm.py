"""hwnas.farm on a real Dask cluster: a scheduler (LocalCluster) and two
`dask worker` processes, each posing as a device (worker resources
device-a, device-b), as docs/distributed.md sets up real machines. One
worker process is killed with SIGKILL mid-run; its nanny restarts it, and the
builds must still end with every row or key exactly once."""

import csv
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import hwnas

distributed = pytest.importorskip("distributed")
farm = pytest.importorskip("hwnas.farm")

QUICK = dict(warmup=1, repeats=2)


def ids(path):
    with open(path, newline="") as f:
        return [int(row["id"]) for row in csv.DictReader(f)]


def start_worker(address, device):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-dashboard",
         "--resources", f"{farm.resource(device)}=1", "--name", device, "--death-timeout", "60"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=0, host="127.0.0.1", protocol="tcp", dashboard_address=":0")
    workers = [start_worker(cluster.scheduler_address, d) for d in ("a", "b")]
    c = distributed.Client(cluster)
    try:
        c.wait_for_workers(2, timeout=120)
        yield c
    finally:
        c.close()
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=60)
        cluster.close()


def worker_pid(client, device):
    pids = client.run(os.getpid)
    names = {addr: info["name"] for addr, info in client.scheduler_info()["workers"].items()}
    return next(pid for addr, pid in pids.items() if names.get(addr) == device)


def test_measure_survives_a_killed_worker(tmp_path, client):
    space = hwnas.space("ofa-mbv3", resolutions=[128])
    n = 60
    result, errors = {}, []

    def run():
        try:
            result.update(farm.measure(client, space, ["a", "b"], n, str(tmp_path), seed=4, shard_size=2,
                                       progress=False, **QUICK))
        except Exception as e:  # reported below
            errors.append(e)

    victim = worker_pid(client, "a")
    thread = threading.Thread(target=run)
    thread.start()
    csv_a = tmp_path / "a.csv"
    while not (csv_a.exists() and len(ids(csv_a)) >= 6) and thread.is_alive():
        time.sleep(0.01)
    rows_at_kill = len(ids(csv_a))
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive() and not errors, errors
    assert rows_at_kill < n, "the run ended before the worker was killed"
    assert worker_pid(client, "a") != victim  # the nanny started a new worker process
    for device in ("a", "b"):
        assert sorted(ids(tmp_path / f"{device}.csv")) == list(range(n))
        assert len(result[device]) == n
    # The same networks as hwnas.measure with this seed, on both devices.
    expected = hwnas.DatasetBuild(space, str(tmp_path / "serial.csv"), n=n, seed=4, **QUICK).archs(list(range(n)))
    for device in ("a", "b"):
        by_id = dict(zip(result[device].ids, result[device].archs))
        assert [by_id[i] for i in range(n)] == expected


def test_measure_resumes_only_what_is_missing(tmp_path, client):
    space = hwnas.space("ofa-mbv3", resolutions=[128])
    farm.measure(client, space, ["a", "b"], 6, str(tmp_path), shard_size=4, progress=False, **QUICK)
    with open(tmp_path / "b.csv") as f:
        before = f.read()
    with pytest.raises(hwnas.IoError, match="pass resume=True"):
        farm.measure(client, space, ["a", "b"], 10, str(tmp_path), progress=False, **QUICK)
    more = farm.measure(client, space, ["a", "b"], 10, str(tmp_path), resume=True, progress=False, **QUICK)
    assert sorted(more["b"].ids) == list(range(10))
    first_rows = before.splitlines()[1:]
    with open(tmp_path / "b.csv") as f:
        assert f.read().splitlines()[1:7] == first_rows  # kept, not measured again


def test_lut_on_two_devices(tmp_path, client):
    fbnet = hwnas.space("fbnet")
    tables = farm.lut(client, fbnet, ["a", "b"], str(tmp_path), shard_size=16, warmup=0, repeats=1, progress=False)
    serial = hwnas.LutBuild(fbnet, str(tmp_path / "serial"), warmup=0, repeats=1)
    for device in ("a", "b"):
        assert hwnas.LutBuild(fbnet, str(tmp_path / device), warmup=0, repeats=1).resumed == serial.total == 106
        assert tables[device].predict(fbnet.sample(seed=1)) > 0


def test_farm_errors(tmp_path, client):
    space = hwnas.space("ofa-mbv3", resolutions=[128])
    with pytest.raises(hwnas.InvalidArgument, match="no worker offers resource 'device-c'"):
        farm.measure(client, space, ["a", "c"], 4, str(tmp_path), progress=False)
    with pytest.raises(hwnas.InvalidArgument, match="devices: a device is named twice"):
        farm.measure(client, space, ["a", "a"], 4, str(tmp_path), progress=False)
    with pytest.raises(hwnas.InvalidArgument, match="no executor for device 'b'"):
        farm.measure(client, space, ["a", "b"], 4, str(tmp_path), executor={"a": "cpu"}, progress=False)
    # A shard that fails on the worker (here: libtorch missing there) is sent
    # again, then reported with the worker's message.
    if "torch-cpu" not in hwnas.executors:
        with pytest.raises(hwnas.Error, match="failed 2 times: InvalidArgument: executor torch-cpu"):
            farm.measure(client, space, ["a"], 2, str(tmp_path / "t"), executor="torch-cpu", retries=1,
                         progress=False)


def test_tune_gives_the_local_report_despite_a_killed_worker(client):
    from conftest import data_path

    data = hwnas.Dataset.read_csv(str(data_path("help-ofa/ofa_gpu_latency.csv")), hwnas.space("ofa-mbv3"))
    options = dict(target="v100_64", max_epochs=27, grace_period=1, reduction_factor=3, learning_rates=[0.1, 0.03],
                   momenta=[0.0, 0.5, 0.9], weight_decays=[1e-5])
    local = hwnas.tune(data, **options)
    victim = worker_pid(client, "b")
    finished = []

    def on_trial(trial):
        finished.append(trial.index)
        if len(finished) == 1:
            os.kill(victim, signal.SIGKILL)

    remote = farm.tune(client, data, progress=on_trial, **options)
    assert len(finished) == 6 and worker_pid(client, "b") != victim
    assert remote["best"] == local["best"]
    assert remote["trials"] == local["trials"]  # every curve's end, epochs and ASHA stop, bit for bit
    assert any(t["stopped_early"] for t in local["trials"])  # the rung decisions were exercised
    drop = lambda report: {k: v for k, v in report.items() if k not in ("tune_s", "threads")}
    assert drop(remote) == drop(local)
