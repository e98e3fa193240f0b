"""A new device from ten measurements: HELP's protocol on the FBNet space.

A fingerprint model of 12 of HELP's 13 FBNet devices (one base per device),
then Pixel 3, which it never saw, from its latencies of HELP's 10 reference
architectures and 10 measured samples; scored on the benchmark split's test
rows, against the best-correlated other device's own measurements.

    PYTHONPATH=build/python python3 examples/python/fbnet_adapt.py [DATA_DIR]

DATA_DIR (default $HWNAS_DATA_DIR, else ../shared/data beside the
repository) holds help-fbnet/ (docs/data.md). Exits with 77 (skipped) when it
is absent.
"""

import os
import pathlib
import sys

import numpy as np

import hwnas

REPO = pathlib.Path(__file__).resolve().parents[2]
data_dir = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("HWNAS_DATA_DIR", REPO.parent / "shared" / "data"))
csv, ref_file = data_dir / "help-fbnet" / "fbnet_latency.csv", data_dir / "help-fbnet" / "reference_arch_ids.txt"
if not csv.exists() or not ref_file.exists():
    print(f"skipped: no {csv} or {ref_file}")
    sys.exit(77)

space = hwnas.space("fbnet")
data = hwnas.Dataset.read_csv(str(csv), space)
reference = [int(line) for line in ref_file.read_text().split()]
target = "pixel3"
bases = [c for c in data.columns if c != target]

model, report = hwnas.train_devices(data, devices=bases, reference_ids=reference, seed=0)
print(f"{len(bases)} bases trained in {report['train_s']:.1f} s")

adapted, rep = hwnas.adapt(model, data, target=target, samples=10, seed=1)
test = rep["test"]
print(f"{target} from its fingerprint and 10 samples ({rep['strategy']}, nearest base {rep['nearest_base']}): "
      f"RMSE {test['rmse_pct']:.2f} %, Spearman {test['spearman']:.3f}, Kendall {test['kendall']:.3f}")

# The trivial baseline: the other device whose latencies of the 10 reference
# architectures correlate best with the target's, its own measurements as the estimate.
rows = [int(np.flatnonzero(data.ids == i)[0]) for i in reference]
y = data.column(target)
best = max(bases, key=lambda c: np.corrcoef(data.column(c)[rows], y[rows])[0, 1])
test_rows = [r for r in range(len(data)) if data.ids[r] % 20 < 3 and r not in rows]


def ranks(v):  # average ranks of ties (the phones' whole milliseconds)
    r = np.empty(len(v))
    r[np.argsort(v, kind="stable")] = np.arange(len(v))
    _, group = np.unique(v, return_inverse=True)
    return (np.bincount(group, r) / np.bincount(group))[group]


rho = np.corrcoef(ranks(data.column(best)[test_rows]), ranks(y[test_rows]))[0, 1]
print(f"baseline, {best}'s own latencies: Spearman {rho:.3f}")
if not test["spearman"] > 0.5:
    sys.exit("the adapted model does not rank the new device's networks")
