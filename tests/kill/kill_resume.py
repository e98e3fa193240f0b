#!/usr/bin/python3
"""Nothing lost under kill (issue 15 §4): `hwnas measure` or `hwnas lut
build` is killed with SIGKILL at random points several times, then resumed
to the end. After every kill the output must parse (never torn) and hold
each finished row or key once; the end result must hold exactly the ids
(or keys) of an uninterrupted run, with the same architectures.

    kill_resume.py HWNAS_EXE WORK_DIR measure|lut [KILLS] [SEED]

Standard library only; CTest runs it as tools.kill.measure and
tools.kill.lut_build.
"""

import csv
import os
import random
import shutil
import signal
import subprocess
import sys
import time

exe, work, what = sys.argv[1:4]
kills = int(sys.argv[4]) if len(sys.argv) > 4 else 6
rng = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 0)

TIMING = ["--warmup", "0", "--repeats", "2"]
if what == "measure":
    ARGS = ["measure", "--space", "ofa-mbv3", "--resolutions", "128,160", "--n", "40", "--seed", "3", *TIMING]
else:
    ARGS = ["lut", "build", "--space", "ofa-mbv3", "--resolutions", "128", *TIMING]


def output(name):
    return os.path.join(work, name + (".csv" if what == "measure" else ""))


def run(name, resume):
    cmd = [exe, *ARGS, "-o", output(name)] + (["--resume"] if resume else [])
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def read_rows(path):
    """id -> architecture fields; fails on a torn or duplicated file."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    assert header[0] == "id", f"{path}: header {header[:3]}"
    arch_end = header.index("latency")
    out = {}
    for n, row in enumerate(rows[1:], start=2):
        assert len(row) == len(header), f"{path}:{n}: {len(row)} fields, header {len(header)} (torn?)"
        assert row[0] not in out, f"{path}:{n}: id {row[0]} twice"
        out[row[0]] = row[1:arch_end]
    return out


def read_keys(folder):
    """key -> (count, mean, std) of every table; fails on a torn file."""
    out = {}
    for name in sorted(os.listdir(folder)):
        if not name.endswith("_lookup_table.yaml"):
            continue
        key, fields = None, {}
        with open(os.path.join(folder, name)) as f:
            lines = f.read().split("\n")
        assert lines[-1] == "", f"{name}: does not end with a line break (torn?)"
        for line in lines[:-1] + ["END:"]:
            if not line.startswith(" "):
                if key is not None:
                    assert set(fields) == {"count", "mean", "std"}, f"{name}: key {key}: {sorted(fields)} (torn?)"
                    full = name.split("_")[0] + "/" + key
                    assert full not in out, f"{name}: {key} twice"
                    out[full] = fields
                key, fields = line.rstrip(":"), {}
            else:
                k, v = line.strip().split(":", 1)
                fields[k] = float(v)
    return out


def read(name):
    path = output(name)
    if not os.path.exists(path):
        return {}
    return read_rows(path) if what == "measure" else read_keys(path)


shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
start = time.monotonic()
whole = run("whole", False)
_, err = whole.communicate()
assert whole.returncode == 0, err
full_time = time.monotonic() - start
want = read("whole")
assert len(want) > 20, f"the uninterrupted run gave {len(want)} items"

killed_at = []
seen = 0
for k in range(kills):
    p = run("killed", k > 0 or os.path.exists(output("killed")))
    time.sleep(rng.uniform(0.1, 0.6) * full_time / 2)
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
        p.wait()
        killed_at.append(k)
    else:
        _, err = p.communicate()
        assert p.returncode == 0, err
    got = read("killed")
    assert len(got) >= seen, f"kill {k}: {seen} items before, {len(got)} after"
    for key, value in got.items():
        assert key in want, f"kill {k}: {key} is not an item of this build"
        if what == "measure":
            assert value == want[key], f"kill {k}: id {key}'s architecture differs from the uninterrupted run's"
    seen = len(got)
rest = run("killed", True)
_, err = rest.communicate()
assert rest.returncode == 0, err
got = read("killed")
assert sorted(got) == sorted(want), f"{len(got)} items after resuming, {len(want)} in the uninterrupted run"
if what == "measure":
    assert got == want, "an id's architecture differs from the uninterrupted run's"
print(f"kill-test: {what}: {len(killed_at)} of {kills} runs killed mid-build (the whole build: {full_time:.1f} s); "
      f"{len(got)} items, each once, as in the uninterrupted run")
