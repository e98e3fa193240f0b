"""Runs a peer script of ../shared/peers unchanged, but also records its
test predictions and their median APE (the peers print mean APE only).

    peer_run.py [--decisions N] PEERS_DIR PRED_OUT SCRIPT [SCRIPT'S ARGUMENTS...]

PRED_OUT gets {"y": measured, "p": predicted} of the peer's last metrics
call, which is on the test rows; the peer's own JSON on stdout gains
"test_median_ape" through the same call.

--decisions N runs the peers on a categorical space's dataset (FBNet's:
id, op0..op21, devices): the N columns after `id` are the decisions, each
encoded one-hot over the values the file holds (hwnas's CategoricalSpace
encoding, 22 x 9 = 198 features for FBNet), in place of the peers' OFA
encodings; their --encoding option is then ignored.
"""

import atexit
import csv
import json
import os
import runpy
import sys

import numpy as np

args = sys.argv[1:]
decisions = 0
if args[:1] == ["--decisions"]:
    decisions = int(args[1])
    args = args[2:]
peers, pred_out, script = args[:3]
sys.path.insert(0, peers)
import common  # the peers' shared module, found through PEERS_DIR

_metrics, _last = common.metrics, {}


def metrics(y, p):
    m = _metrics(y, p)
    y = np.asarray(y, np.float64)
    p = np.asarray(p, np.float64)
    m["median_ape"] = 100 * float(np.median(np.abs(p - y) / y))
    _last.update(y=y.tolist(), p=p.tolist())  # the last call is on the test rows
    return m


def write_predictions():
    if _last:
        with open(pred_out, "w") as f:
            json.dump(_last, f)


def load_categorical(path, target):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    names = list(rows[0].keys())[1:1 + decisions]
    if target not in rows[0] or target in names:
        raise SystemExit(f"{path}: no latency column {target!r}")
    values = [sorted({float(r[n]) for r in rows}) for n in names]
    offsets = np.cumsum([0] + [len(v) for v in values])
    archs = []
    for r in rows:
        hot = [int(offsets[i] + values[i].index(float(r[n]))) for i, n in enumerate(names)]
        archs.append(dict(id=int(r["id"]), hot=hot, dim=int(offsets[-1])))
    return archs, np.array([float(r[target]) for r in rows])


def encode_categorical(a, encoding=None):
    v = np.zeros(a["dim"], dtype=np.float32)
    v[a["hot"]] = 1
    return v


common.metrics = metrics
if decisions:
    common.load, common.encode = load_categorical, encode_categorical
atexit.register(write_predictions)
sys.argv = [script] + args[3:]
runpy.run_path(os.path.join(peers, script), run_name="__main__")
