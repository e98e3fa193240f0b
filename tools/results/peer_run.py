"""Runs a peer script of ../shared/peers unchanged, but also records its
test predictions and their median APE (the peers print mean APE only).

    peer_run.py PEERS_DIR PRED_OUT SCRIPT [SCRIPT'S ARGUMENTS...]

PRED_OUT gets {"y": measured, "p": predicted} of the peer's last metrics
call, which is on the test rows; the peer's own JSON on stdout gains
"test_median_ape" through the same call.
"""

import atexit
import json
import os
import runpy
import sys

import numpy as np

peers, pred_out, script = sys.argv[1:4]
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


common.metrics = metrics
atexit.register(write_predictions)
sys.argv = [script] + sys.argv[4:]
runpy.run_path(os.path.join(peers, script), run_name="__main__")
