"""Draws the figures docs/results.md links, from the raw outputs of
tools/results/run.sh, as SVG with matplotlib:

  <column>.svg          predicted vs measured latency on the test rows, per column
  generalisation.svg    leave one GPU out: mean test RMSE % against N
  pareto-<space>.svg    the search's Pareto fronts at the LUT's latency

    plots.py --work build-bench/results --csv ofa_gpu_latency.csv --out-dir docs/plots

The same inputs give byte-identical files (fixed hash salt, no date), so a
regenerated figure shows up in a diff only when its data changed.
"""

import argparse
import math
import os

import matplotlib

# Files only, no display; chosen before pyplot is imported.
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from results_data import OUTLIER_PCT, Accuracy, Generalisation, Run, load, pareto_series

plt.rcParams.update({
    "svg.hashsalt": "hwnas-results",  # element ids from a fixed salt, not a random one
    "svg.fonttype": "none",  # text stays text: smaller files, readable diffs
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.titlesize": 10,
})

BLUE, GREY, RED, GREEN, ORANGE, DARK = "#1f5fbf", "#bbbbbb", "#d62728", "#2ca02c", "#ff7f0e", "#444444"


def save(fig, path):
    fig.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)


def predicted_vs_measured(a, col, path):
    """hwnas `default` (blue) and the PyTorch peer's `paper` model (grey) on
    the test rows; red rings: the outliers every model family misses."""
    yd, pd = a.preds["hwnas-default", col]
    yp, pp = a.preds["torch-paper", col]
    lo = float(min(yd.min(), pd.min(), pp.min())) * 0.95
    hi = float(max(yd.max(), pd.max(), pp.max())) * 1.05
    d, q = a.acc["hwnas-default", col], a.acc["torch-paper", col]
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.grid(color="#eeeeee", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.plot([lo, hi], [lo, hi], color="#888888", linewidth=1)
    for f in (1.1, 0.9):  # the lines clip at the axes
        ax.plot([lo, hi], [f * lo, f * hi], color="#888888", linewidth=1, linestyle=(0, (4, 3)))
    ax.scatter(yp, pp, s=5, color=GREY, alpha=0.7, linewidths=0)
    ax.scatter(yd, pd, s=6, color=BLUE, alpha=0.65, linewidths=0)
    miss = a.outliers[col]
    if miss.any():
        ax.scatter(yd[miss], pd[miss], s=45, facecolors="none", edgecolors=RED, linewidths=1)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel("measured latency (ms)")
    ax.set_ylabel("predicted latency (ms)")
    ax.set_title(f"{col}: predicted vs measured (test rows)")
    handles = [
        Line2D([], [], marker="o", linestyle="", color=BLUE, markersize=4,
               label=f"hwnas default: RMSE {d['rmse_pct']:.2f} %, median APE {d['median_ape']:.2f} %"),
        Line2D([], [], marker="o", linestyle="", color=GREY, markersize=4,
               label=f"PyTorch paper: RMSE {q['rmse_pct']:.2f} %, median APE {q['median_ape']:.2f} %"),
        Line2D([], [], marker="o", linestyle="", markerfacecolor="none", markeredgecolor=RED, markersize=7,
               label=f"outlier (every model family > {OUTLIER_PCT} % off)"),
        Line2D([], [], color="#888888", linewidth=1, label="y = x"),
        Line2D([], [], color="#888888", linewidth=1, linestyle=(0, (4, 3)), label="±10 %"),
    ]
    ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)
    save(fig, path)


def generalisation(g, path):
    """Mean test RMSE % of the held-out columns against N (equally spaced),
    per strategy, with the full-data models' mean as a dashed line."""
    ns = g.ns
    # adapt equals blend below its fine-tuning threshold: dashed on top, so
    # both stay visible where they coincide.
    series = (("fingerprint", "one base", BLUE, "-", "o"), ("blend", "blend", ORANGE, "-", "o"),
              ("finetune", "finetune", RED, "-", "o"), ("adapt", "adapt", GREEN, (0, (4, 2)), "s"))
    full = g.full_mean["rmse_pct"]
    fig, ax = plt.subplots(figsize=(8.0, 4.2))
    ax.grid(axis="y", color="#eeeeee", linewidth=0.8)
    ax.set_axisbelow(True)
    top = full
    for name, label, colour, style, marker in series:
        pts = [(i, g.mean(name, n, "rmse_pct")) for i, n in enumerate(ns)]
        pts = [(i, v) for i, v in pts if v is not None]
        if pts:
            ax.plot([i for i, _ in pts], [v for _, v in pts], color=colour, linewidth=2, linestyle=style,
                    marker=marker, markersize=4, label=label)
            top = max(top, max(v for _, v in pts))
    ax.axhline(full, color=DARK, linewidth=1.2, linestyle=(0, (5, 4)), label="full (3500 rows)")
    ax.set_xticks(range(len(ns)))
    ax.set_xticklabels([str(n) for n in ns])
    ax.set_xlim(-0.5, len(ns) - 0.5)
    ax.set_ylim(0, top * 1.25)
    ax.set_xlabel("N measured samples of the new device (beyond its fingerprint)")
    ax.set_ylabel("test RMSE %")
    ax.set_title("leave one GPU out: mean test RMSE % of the held-out columns")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    baselines = g.baselines()
    if baselines:
        notes = ["conditioned MLPs, N = 0:"] + [f"  {label.split(' (')[0]}: {m['rmse_pct']:.1f} %"
                                                for _, label, m in baselines]
        ax.text(1.03, 0.5, "\n".join(notes), transform=ax.transAxes, va="top", ha="left")
    save(fig, path)


def pareto(space, budgets, path):
    """Predicted top-1 against the LUT latency: the exact front (fixed-kernel
    space) and seed 0's search fronts; dashed red: the budgets."""
    series = pareto_series(space)
    xlo, xhi = 10.0, 5.0 * math.ceil(max(budgets) / 5.0 + 1)
    inside = [100 * y for _, pts, _, _ in series for x, y in pts if xlo <= x <= xhi]
    fig, ax = plt.subplots(figsize=(7.0, 5.0))
    ax.grid(color="#eeeeee", linewidth=0.8)
    ax.set_axisbelow(True)
    for b in budgets:
        ax.axvline(b, color=RED, linewidth=1, linestyle=(0, (3, 3)))
    for label, pts, colour, kind in series:
        pts = sorted(((x, 100 * y) for x, y in pts if xlo <= x <= xhi), key=lambda p: p[0])
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        if kind == "line":
            ax.plot(xs, ys, color=colour, linewidth=1.5, label=label)
        elif kind == "rings":
            ax.scatter(xs, ys, s=30, facecolors="none", edgecolors=colour, linewidths=1, label=label)
        else:
            ax.scatter(xs, ys, s=9, color=colour, linewidths=0, label=label)
    ax.set_xlim(xlo, xhi)
    if inside:
        ax.set_ylim(min(inside) - 0.3, max(inside) + 0.3)
    ax.set_xlabel("latency on the Note10 LUT (ms); dashed: the budgets")
    ax.set_ylabel("predicted top-1 (%)")
    ax.set_title(f"{space['space']} (w1.2): predicted top-1 vs Note10 LUT latency")
    # Top left: nothing there is both fast and accurate.
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    save(fig, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", required=True, help="run.sh's raw outputs (build-bench/results)")
    ap.add_argument("--csv", required=True, help="HELP's ofa_gpu_latency.csv, the data of the accuracy runs")
    ap.add_argument("--out-dir", required=True, help="where the SVG files go (docs/plots)")
    args = ap.parse_args()

    run = Run(args.work, args.csv)
    os.makedirs(args.out_dir, exist_ok=True)
    a = Accuracy(args.work, args.csv, run.columns)
    for col in run.columns:
        predicted_vs_measured(a, col, os.path.join(args.out_dir, f"{col}.svg"))
    gen = os.path.join(args.work, "generalisation.json")
    if os.path.exists(gen):
        generalisation(Generalisation(load(gen), run), os.path.join(args.out_dir, "generalisation.svg"))
    search = os.path.join(args.work, "search.json")
    if os.path.exists(search):
        sj = load(search)
        for space in sj["spaces"]:
            if pareto_series(space):  # the report links exactly these
                pareto(space, sj["budgets"], os.path.join(args.out_dir, f"pareto-{space['space']}.svg"))


if __name__ == "__main__":
    main()
