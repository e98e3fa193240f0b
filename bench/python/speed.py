#!/usr/bin/python3
"""hwnas from Python against the Python peers, side by side in one process.

  PYTHONPATH=build/python OPENBLAS_NUM_THREADS=1 python3 bench/python/speed.py [--quick] [--out FILE]

Single thread (PyTorch set to 1 thread; hwnas's prediction and search are
single-threaded). Reads HELP's OFA latencies, OFA's Note10 lookup tables and
accuracy predictor from $HWNAS_DATA_DIR (default ../shared/data), and the
peers' code from $HWNAS_PEERS_DIR (default ../shared/peers). Prints one JSON
object (and writes it to --out):

- one prediction: hwnas.Model.predict(spec dict) of a `paper` model against
  the PyTorch MLP of the method (encode + forward of one spec, as
  torch_mlp.py --time-inference);
- batched prediction: a list of 10 000 spec dicts through Model.predict,
  against the same model predicting a hwnas.Dataset's 5000 rows (C++
  architectures, no Python objects: the C++ batched rate) and PyTorch's
  forward pass on pre-encoded rows;
- search: OFA's evolutionary search (population 100, 500 generations, 25 ms
  on the Note10 tables, OFA MobileNetV3 w1.2) in the peer's Python
  (py_evolution.py, OFA's EvolutionFinder) against hwnas.search with the
  same PyTorch accuracy predictor as a Python callable, and with it imported
  into C++.

Timings are the median of repeated runs; compare them only within one run.
"""

import argparse
import json
import os
import pathlib
import random
import statistics
import sys
import time

import numpy as np

import hwnas

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA = pathlib.Path(os.environ.get("HWNAS_DATA_DIR", REPO.parent / "shared" / "data"))
PEERS = pathlib.Path(os.environ.get("HWNAS_PEERS_DIR", REPO.parent / "shared" / "peers"))


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repeats and 50 generations (a smoke run)")
    ap.add_argument("--out", help="also write the JSON here")
    a = ap.parse_args()
    csv = DATA / "help-ofa" / "ofa_gpu_latency.csv"
    if not csv.exists() or not (PEERS / "py_evolution.py").exists():
        print(f"skipped: needs {csv} and {PEERS / 'py_evolution.py'}")
        return 77
    sys.path.insert(0, str(PEERS))
    try:
        import torch
        import torch.nn as nn
        import py_evolution as peer
        from common import encode as peer_encode
    except ImportError as e:
        print(f"skipped: the peers need {e.name} (tools/install-deps.sh --results)")
        return 77

    torch.set_num_threads(1)
    repeats = 3 if a.quick else 7
    out = {"torch": torch.__version__, "hwnas": hwnas.__version__, "repeats": repeats}

    # ---- one prediction and batches: a `paper` model of v100_64 ----
    space = hwnas.space("ofa-mbv3")
    data = hwnas.Dataset.read_csv(str(csv), space)
    model, _ = hwnas.train(data, target="v100_64", recipe="paper", epochs=1 if a.quick else 100)
    specs = data.archs
    arch = specs[7]
    n_one = 2000 if a.quick else 20000
    out["hwnas_predict_one_us"] = median_time(lambda: [model.predict(arch) for _ in range(n_one)], repeats) / n_one * 1e6

    torch_model = nn.Sequential(nn.Linear(128, 400), nn.ReLU(), nn.Linear(400, 400), nn.ReLU(), nn.Linear(400, 1))
    torch_model.eval()
    peer_specs = [dict(ks=s["ks"], e=s["e"], d=s["d"], r=s["r"][0]) for s in specs]
    with torch.no_grad():
        n_peer = 2000

        def torch_one():
            for i in range(n_peer):
                torch_model(torch.as_tensor(peer_encode(peer_specs[i % len(peer_specs)])[None]))

        out["torch_predict_one_us"] = median_time(torch_one, repeats) / n_peer * 1e6
        xb = torch.as_tensor(np.stack([peer_encode(peer_specs[i % 5000]) for i in range(10000)]))
        torch_model(xb)
        out["torch_forward_batch_per_s"] = 10000 / median_time(lambda: torch_model(xb), repeats)

    batch = [specs[i % len(specs)] for i in range(10000)]
    out["hwnas_predict_list_per_s"] = 10000 / median_time(lambda: model.predict(batch), repeats)
    out["hwnas_predict_dataset_per_s"] = len(data) / median_time(lambda: model.predict(data), repeats)
    out["list_over_cpp"] = out["hwnas_predict_list_per_s"] / out["hwnas_predict_dataset_per_s"]
    out["one_speedup"] = out["torch_predict_one_us"] / out["hwnas_predict_one_us"]

    # ---- search: the peer's Python EvolutionFinder against hwnas.search ----
    generations = 50 if a.quick else 500
    peer_acc = peer.accuracy_predictor(str(DATA / "ofa-acc-predictor"))
    peer_lut = peer.Lut(str(DATA / "note10-lut"))
    w12 = hwnas.space("ofa-mbv3", width=1.2, resolutions=peer.RES)
    lut = hwnas.LookupTable.read(str(DATA / "note10-lut"), w12)
    acc = hwnas.import_torch(str(DATA / "ofa-acc-predictor"), w12)

    def torch_accuracy(archs):  # the peer's PyTorch predictor, on hwnas's specs
        with torch.no_grad():
            return peer_acc([dict(ks=x["ks"], e=x["e"], d=x["d"], r=x["r"][0]) for x in archs])

    runs = {"peer": [], "hwnas_callable": [], "hwnas_cpp": []}
    results = {}
    for seed in range(1 if a.quick else 3):
        start = time.perf_counter()
        with torch.no_grad():
            _, peer_best, _ = peer.search(peer.Space("ofa", random.Random(seed)), peer_acc, peer_lut, 25,
                                          generations=generations)
        runs["peer"].append(time.perf_counter() - start)
        for name, fitness in (("hwnas_callable", torch_accuracy), ("hwnas_cpp", acc)):
            start = time.perf_counter()
            r = hwnas.search(w12, latency=lut, accuracy=fitness, budgets=[25], seed=seed, generations=generations)
            runs[name].append(time.perf_counter() - start)
            results.setdefault(name, []).append(r["results"][0]["accuracy"])
        results.setdefault("peer", []).append(float(peer_best))
    out["search_generations"] = generations
    out["search_s"] = {k: statistics.median(v) for k, v in runs.items()}
    out["search_accuracy"] = results
    out["search_speedup_callable"] = out["search_s"]["peer"] / out["search_s"]["hwnas_callable"]
    out["search_speedup_cpp"] = out["search_s"]["peer"] / out["search_s"]["hwnas_cpp"]

    text = json.dumps(out, indent=1)
    print(text)
    if a.out:
        tmp = pathlib.Path(a.out + ".tmp")
        tmp.write_text(text + "\n")
        tmp.replace(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
