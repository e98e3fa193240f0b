"""The raw outputs of tools/results/run.sh (build-bench/results/), read in one
place for report.py (docs/results.md) and plots.py (docs/plots/*.svg), so the
table and the figure of a number are computed by the same code.

Run as a script, it prints the device columns of a latency CSV (run.sh's
default COLUMNS): `results_data.py columns CSV`.
"""

import csv
import json
import math
import os
import sys

import numpy as np

# Rows that every one of these model families misses by more than
# OUTLIER_PCT % are counted as measurement outliers: four families agreeing
# on the trend and disagreeing with the measurement.
OUTLIER_PCT = 25
OUTLIER_FAMILIES = ("hwnas-default", "torch-res25", "ridge-res25", "hgb-res25")

# (key = file prefix, label in the tables, is hwnas)
MODELS = (
    ("hwnas-paper", "hwnas `paper`", True),
    ("hwnas-default", "hwnas `default`", True),
    ("torch-paper", "PyTorch MLP, paper enc.", False),
    ("torch-res25", "PyTorch MLP, res25 enc.", False),
    ("ridge-paper", "Ridge, paper enc.", False),
    ("ridge-res25", "Ridge, res25 enc.", False),
    ("hgb-paper", "Grad. boosting, paper enc.", False),
    ("hgb-res25", "Grad. boosting, res25 enc.", False),
)
PEERS = tuple(k for k, _, is_hwnas in MODELS if not is_hwnas)
LABEL = {k: label for k, label, _ in MODELS}


def fail(message):
    """Stops the report with a message that says which raw output is wrong."""
    sys.exit(f"results: {message}")


def load(path):
    with open(path) as f:
        return json.load(f)


def prediction_values(path):
    """The latencies of a `hwnas predict` or `lut predict --json` output, in
    row order: a dataset's rows are {"id", "latency"} objects (raw outputs of
    runs before that hold plain numbers)."""
    return np.asarray([p["latency"] if isinstance(p, dict) else p for p in load(path)["predictions"]], float)


def device_columns(csv_path):
    """The device columns of a latency CSV (`id, <architecture>, r,
    <devices>`): every column after `r`, in file order. The one list of the
    columns: run.sh's default COLUMNS and the report's order both come from
    here."""
    with open(csv_path, newline="") as f:
        header = [h.strip() for h in next(csv.reader(f))]
    if "r" not in header:
        fail(f"{csv_path}: no column 'r' in the header, so no device columns after it")
    return header[header.index("r") + 1:]


class Run:
    """What run.sh recorded in run.json: the columns it ran, the timing
    pairs, the CPU study's sizes and its own wall time."""

    def __init__(self, work, csv_path):
        j = load(os.path.join(work, "run.json"))
        self.all_columns = device_columns(csv_path)
        asked = j["columns"].split()
        self.columns = [c for c in self.all_columns if c in asked] + [c for c in asked if c not in self.all_columns]
        self.pairs = int(j["pairs"])
        self.speed_column = j["speed_column"]
        self.elapsed = int(j["elapsed_s"])
        self.cpu_n, self.cpu_small, self.cpu_test = int(j["cpu_n"]), int(j["cpu_small"]), int(j["cpu_test"])
        self.cpu_warmup, self.cpu_repeats = int(j["cpu_warmup"]), int(j["cpu_repeats"])

    def ordered(self, names):
        """`names` (a study's columns) in the CSV's order."""
        return [c for c in self.all_columns if c in names] + [c for c in names if c not in self.all_columns]


def apes(y, p):
    y, p = np.asarray(y, float), np.asarray(p, float)
    return 100 * np.abs(p - y) / y


class Accuracy:
    """Every model's test metrics and test predictions per column, and the
    outlier rows, from acc/ and pred/."""

    def __init__(self, work, csv_path, columns):
        with open(csv_path, newline="") as f:
            rows = list(csv.DictReader(f))
        self.ids = np.array([int(r["id"]) for r in rows])
        self.test = np.flatnonzero(self.ids % 20 < 3)  # the benchmark split's test rows
        self.acc, self.preds, self.outliers = {}, {}, {}
        for col in columns:
            y_all = np.array([float(r[col]) for r in rows])
            for key, _, is_hwnas in MODELS:
                j = load(f"{work}/acc/{key}-{col}.json")
                if is_hwnas:
                    t = j["test"]
                    p = prediction_values(f"{work}/pred/{key}-{col}.json")
                    py, pp = y_all[self.test], p[self.test]
                    # The plotted predictions must be the evaluated ones.
                    r = float(np.sqrt(np.mean((py - pp) ** 2)))
                    if abs(r - t["rmse"]) > 1e-3 * max(1.0, t["rmse"]):
                        fail(f"{key} {col}: RMSE of the saved model's predictions {r} != train's {t['rmse']}")
                    self.acc[key, col] = dict(rmse_pct=t["rmse_pct"], median_ape=t["median_ape"],
                                              spearman=t["spearman"], mape=t["mape"], train_s=j.get("train_s"),
                                              epochs=j.get("epochs"), best_epoch=j.get("best_epoch"))
                    self.preds[key, col] = (py, pp)
                else:
                    self.acc[key, col] = dict(rmse_pct=j["test_rmse_pct"], median_ape=j["test_median_ape"],
                                              spearman=j["test_spearman"], mape=j["test_mape"],
                                              params=j.get("params"))
                    pj = load(f"{work}/pred/{key}-{col}.json")
                    self.preds[key, col] = (np.asarray(pj["y"], float), np.asarray(pj["p"], float))
                    if not np.allclose(self.preds[key, col][0], y_all[self.test]):
                        fail(f"{key} {col}: the peer's test rows are not the benchmark split's")
            miss = np.ones(len(self.test), bool)
            for k in OUTLIER_FAMILIES:
                miss &= apes(*self.preds[k, col]) > OUTLIER_PCT
            self.outliers[col] = miss

    def rmse_pct_without_outliers(self, key, col):
        y, p = self.preds[key, col]
        keep = ~self.outliers[col]
        return 100 * math.sqrt(float(np.mean((y[keep] - p[keep]) ** 2))) / float(np.mean(y[keep]))


class Generalisation:
    """experiments/generalisation's output: per held-out column, the curve
    over N, and means over the columns."""

    BASELINES = (("n0_spec", "spec (the method, 131-d)"), ("n0_spec_batch", "spec + batch"),
                 ("n0_both", "spec + batch + fingerprint"))
    METRICS = ("rmse_pct", "mape", "kendall", "spearman")

    def __init__(self, j, run):
        self.j = j
        self.columns = run.ordered(j["columns"])
        self.ns = j["samples"]
        self.curve = {c: {pt["n"]: pt for pt in j["columns"][c]["curve"]} for c in self.columns}
        self.full = {c: j["columns"][c]["full"] for c in self.columns}
        self.full_mean = {k: self.mean_over_columns(self.full[c][k] for c in self.columns) for k in self.METRICS}

    def mean_over_columns(self, values):
        return sum(values) / len(self.columns)

    def mean(self, strategy, n, key):
        """The mean over held-out columns, or None where a column lacks the
        strategy at this N (finetune below N = 5)."""
        vals = [self.curve[c][n][strategy][key] for c in self.columns if strategy in self.curve[c][n]]
        return sum(vals) / len(vals) if len(vals) == len(self.columns) else None

    def baselines(self):
        """The conditioned MLPs (N = 0) every held-out column has: (key, label, mean metrics)."""
        out = []
        for key, label in self.BASELINES:
            if all(key in self.j["columns"][c] for c in self.columns):
                out.append((key, label, {k: self.mean_over_columns(self.j["columns"][c][key][k] for c in self.columns)
                                         for k in self.METRICS}))
        return out


def pareto_series(space):
    """What a Pareto plot of one space of experiments/search_comparison shows:
    (label, [(latency, accuracy)], colour, kind) for the exact front (the
    fixed-kernel space) and seed 0's fronts searching with the LUT and with
    the predictor plus its margin. Empty: no plot."""
    series = []
    if space.get("exact_front"):
        series.append(("exact front (every network)", space["exact_front"], "#999999", "line"))
    colours = {"lut": "#1f5fbf", "mlp+memo+margin": "#e07b00"}
    for mode in space["modes"]:
        if mode["mode"] in colours and mode["runs"] and mode["runs"][0].get("pareto"):
            label = "search front, " + mode["mode"] + (" (at LUT latency)" if mode["mode"] != "lut" else "")
            series.append((label, mode["runs"][0]["pareto"], colours[mode["mode"]],
                           "rings" if mode["mode"] == "lut" else "dots"))
    return series


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "columns":
        sys.exit("usage: results_data.py columns CSV")
    print(" ".join(device_columns(sys.argv[2])))
