"""The study sections of docs/results.md: fine-tuning to a new device,
hardware generalisation, the CPU devices and the lookup-table-or-predictor
study of this machine's CPU, and the search with each latency source (the
outputs of experiments/ and run.sh's CPU step)."""

import csv
import math
import json
import os
import statistics

import numpy as np

from report_format import TIME_SCALE, bench_rows
from results_data import Generalisation, load, prediction_values

def finetune(r):
    if not os.path.exists(r.path("finetune.json")):
        return
    fj = load(r.path("finetune.json"))
    ns = fj["samples"]
    fcols = r.run.ordered(fj["columns"])
    r.w("## Fine-tuning to a new device\n")
    r.w(f"For each target column, N samples of its train rows (seeds {', '.join(map(str, fj['seeds']))}: "
        "`random_subset`, nested, so the 100 contain the 50); 20 % of them validate (seeded hold-out folds) and the "
        "rest train — nothing else of the target device is used — and the column's test rows score. Strategies "
        "(`experiments/finetune_curve`, mean test RMSE % over the seeds):\n")
    for name in ("finetune", "scratch", "method"):
        r.w(f"- **{name}**: {fj['strategies'][name]};")
    r.w("- **full**: `default_recipe()` on all 3500 train rows of the column with its validation rows.\n")
    r.w("| column | " + " | ".join(f"N = {n}: fine-tune / scratch / method" for n in ns) +
        " | full | fine-tune(700) / full |")
    r.w("|---|" + "---:|" * (len(ns) + 2))
    ok_beat, ok_ratio, worst = True, True, []
    means = {k: [0.0] * len(ns) for k in ("finetune", "scratch", "method")}
    for c in fcols:
        col = fj["columns"][c]
        cells = []
        for i, pt in enumerate(col["curve"]):
            f, sc, me = pt["finetune"]["rmse_pct"], pt["scratch"]["rmse_pct"], pt["method"]["rmse_pct"]
            for k, v in (("finetune", f), ("scratch", sc), ("method", me)):
                means[k][i] += v / len(fcols)
            ok_beat &= f < sc
            bold = "**" if f < sc else ""
            cells.append(f"{bold}{f:.2f}{bold} / {sc:.2f} / {me:.2f}")
        ratio = col["curve"][-1]["finetune"]["rmse_pct"] / col["full"]["rmse_pct"]
        if ratio > 1.15:
            ok_ratio = False
            worst.append(f"{c} {ratio:.2f}")
        r.w(f"| {c} | " + " | ".join(cells) +
            f" | {col['full']['rmse_pct']:.2f} | {ratio:.3f}{' ❌' if ratio > 1.15 else ''} |")
    r.w("| mean | " + " | ".join(f"{means['finetune'][i]:.2f} / {means['scratch'][i]:.2f} / {means['method'][i]:.2f}"
                               for i in range(len(ns))) + " | | |")
    r.w("")
    r.w(f"Bold: fine-tuning below scratch on the same samples. The method's fine-tuning (its base on "
        f"{fj['columns'][fcols[-1]]['method_base']}, 2 frozen layers) loses to scratch, as it does in "
        f"PyTorch (21.9 % vs 9.2 %): here {means['method'][-1]:.1f} % vs {means['scratch'][-1]:.1f} % at "
        f"N = {ns[-1]}. Run time {fj['seconds'] / 60:.1f} min on one core.\n")
    r.check("fine-tuning beats scratch on the same N samples, every column and N", ok_beat,
            f"{len(fcols)} columns × {len(ns)} N")
    r.check(f"fine-tuning with N = {ns[-1]} within 1.15× of the full-data model, every column", ok_ratio,
            "all" if ok_ratio else "fails: " + ", ".join(worst))


def generalisation(r):
    if not os.path.exists(r.path("generalisation.json")):
        return
    g = Generalisation(load(r.path("generalisation.json")), r.run)
    gj, gcols, ns, G, full, fmean = g.j, g.columns, g.ns, g.curve, g.full, g.full_mean
    r.w("## Hardware generalisation\n")
    r.w("Leave one GPU out of HELP's data: a `DevicePredictor` of the other two GPUs' six columns (every batch size) "
        "predicts each batch size of the held-out GPU from that device's **fingerprint** (its latencies of HELP's "
        f"{len(gj['reference_ids'])} reference architectures) and N measured samples of its train rows (seeds "
        f"{', '.join(map(str, gj['seeds']))}, nested). Test: the benchmark split's test rows without the reference "
        f"architectures ({gj['test_rows']} rows). Means over the {len(gcols)} held-out columns and the seeds "
        "(`experiments/generalisation --full`; docs/generalisation.md):\n")
    r.w("- **one base**: the base whose line in log space fits the fingerprint plus the N samples best "
        "(leave-one-out), mapped by that line (`DevicePredictor::map`);")
    r.w("- **blend**: that one base's line corrected by every base, a ridge regression of its residuals on the "
        "fingerprint plus the N samples, taken only where leave-one-out says it pays; none from the fingerprint "
        "alone (`DevicePredictor::blend`);")
    r.w("- **finetune**: `fine_tune_from` over the same bases, on the N samples plus the fingerprint;")
    r.w(f"- **adapt** (`adapt_to_device`, what `hwnas adapt` does): blend below N = {gj['fine_tune_from']}; "
        "from there blend or finetune, whichever does better on a seeded 20 % hold-out of the N samples "
        "(the last column counts the cases where it fine-tuned);")
    r.w("- **spec**, **spec + batch**, **spec + batch + fingerprint** (N = 0): one MLP on the encoding plus the "
        "device features, trained on the same six columns; **spec** is the method's 131-d model (CUDA cores, "
        "memory, bandwidth);")
    r.w("- **full**: `default_recipe()` on the held-out column's 3500 train rows (and its validation rows).\n")
    r.w("| N | one base: RMSE % / MAPE / Kendall / Spearman | blend: RMSE % / Spearman | finetune: RMSE % / Spearman "
        "| adapt: RMSE % | adapt / full (mean of ratios) | adapt fine-tuned |")
    r.w("|---:|---|---|---|---:|---:|---:|")
    for n in ns:
        fp = [g.mean("fingerprint", n, k) for k in g.METRICS]
        bl = [g.mean("blend", n, k) for k in ("rmse_pct", "spearman")]
        ft = [g.mean("finetune", n, k) for k in ("rmse_pct", "spearman")]
        ad = g.mean("adapt", n, "rmse_pct")
        ratio = g.mean_over_columns(G[c][n]["adapt"]["over_full"] for c in gcols)
        pair = lambda v: "–" if v[0] is None else f"{v[0]:.2f} / {v[1]:.3f}"
        tuned = sum(G[c][n].get("adapt_fine_tuned_seeds", 0) for c in gcols)
        r.w(f"| {n} | {fp[0]:.2f} / {fp[1]:.2f} / {fp[2]:.3f} / {fp[3]:.3f} | {pair(bl)} | {pair(ft)} | {ad:.2f} | "
            f"{ratio:.2f} | {tuned} of {len(gcols) * len(gj['seeds'])} |")
    for _, label, m in g.baselines():
        r.w(f"| {label}, N = 0 | {m['rmse_pct']:.2f} / {m['mape']:.2f} / {m['kendall']:.3f} / {m['spearman']:.3f} "
            "| | | | | |")
    r.w(f"| full (3500 rows) | {fmean['rmse_pct']:.2f} / {fmean['mape']:.2f} / {fmean['kendall']:.3f} / "
        f"{fmean['spearman']:.3f} | | | | | |")
    r.w("")
    n20 = 20 if 20 in ns else None
    r.w("Per held-out column (RMSE %; Spearman in brackets):\n")
    head = "| column | full | adapt, N = 0 |" + (" adapt, N = 20 | N = 20 / full |" if n20 else "")
    for _, label in g.BASELINES:
        head += f" {label}, N = 0 |"
    r.w(head)
    r.w("|---|" + "---:|" * (head.count("|") - 2))
    bad20 = []
    for c in gcols:
        row = (f"| {c} | {full[c]['rmse_pct']:.2f} ({full[c]['spearman']:.3f}) | "
               f"{G[c][0]['adapt']['rmse_pct']:.2f} ({G[c][0]['adapt']['spearman']:.3f}) |")
        if n20:
            ratio = G[c][20]["adapt"]["over_full"]
            if ratio > 1.25:
                bad20.append(f"{c} {ratio:.2f}")
            row += (f" {G[c][20]['adapt']['rmse_pct']:.2f} ({G[c][20]['adapt']['spearman']:.3f}) | "
                    f"{ratio:.2f}{' ❌' if ratio > 1.25 else ''} |")
        for key, _ in g.BASELINES:
            v = gj["columns"][c].get(key)
            row += f" {v['rmse_pct']:.2f} ({v['spearman']:.3f}) |" if v else " – |"
        r.w(row)
    r.w("")
    r.w("![generalisation: test RMSE % vs N](plots/generalisation.svg)\n")
    r.w(f"Run time {gj['seconds'] / 60:.1f} min on one core.\n")
    fp0 = g.mean("adapt", 0, "rmse_pct")
    sp0 = g.mean("adapt", 0, "spearman")
    r.check("generalisation, fingerprint alone (N = 0): mean RMSE ≤ 12 % over held-out columns", fp0 <= 12,
            f"{fp0:.2f} %")
    r.check("generalisation, fingerprint alone (N = 0): mean Spearman ≥ 0.93", sp0 >= 0.93,
            f"{sp0:.3f} (the full-data models: {fmean['spearman']:.3f})")
    if n20:
        mean20 = g.mean_over_columns(G[c][20]["adapt"]["over_full"] for c in gcols)
        r.check("generalisation, N = 20: within 1.25× of the full-data model, every held-out column",
                not bad20, ("all" if not bad20 else "fails: " + ", ".join(bad20)) + f"; mean ratio {mean20:.2f}")


def fbnet_devices(r):
    if not os.path.exists(r.path("fbnet_devices.json")):
        return
    fj = load(r.path("fbnet_devices.json"))
    r.w("## FBNet: HELP's 13 devices\n")
    r.w("The FBNet space (`--space fbnet`: 22 layers of 9 operations) with HELP's measurements of 5000 "
        "architectures (`help-fbnet/fbnet_latency.csv`): each column's `default_recipe()` model in log space, "
        "trained on the benchmark split's train rows (with its validation rows), scored on its test rows without "
        f"HELP's {len(fj['reference_ids'])} reference architectures ({fj['test_rows']} rows; "
        "`experiments/fbnet_devices --full`). The phones' latencies are whole milliseconds.\n")
    r.w("| column | RMSE % | MAPE % | Kendall | Spearman |")
    r.w("|---|---:|---:|---:|---:|")
    for c, m in fj["per_device"].items():
        r.w(f"| {c} | {m['rmse_pct']:.2f} | {m['mape']:.2f} | {m['kendall']:.3f} | {m['spearman']:.3f} |")
    r.w("")
    cols = list(fj["columns"])
    per = list(fj["per_device"].values())
    ceiling = {k: statistics.mean(m[k] for m in per) for k in ("rmse_pct", "kendall", "spearman")}
    r.w(f"Mean over the {len(per)} columns: RMSE {ceiling['rmse_pct']:.2f} %, Kendall {ceiling['kendall']:.3f}, "
        f"Spearman {ceiling['spearman']:.3f}: what ~4000 of a device's own samples give, the ceiling of any "
        "few-shot method scored on these measurements.\n")
    cols = list(fj["columns"])
    r.w("Leave one device out (a GPU with all three batch sizes): a `DevicePredictor` of the other devices' "
        "columns predicts each held-out column from its fingerprint (its latencies of the reference "
        f"architectures) and N samples of its train rows (seeds {', '.join(map(str, fj['seeds']))}): "
        "**one base** (the base whose line in log space fits best, leave-one-out; `DevicePredictor::map`), "
        "**blend** (that line corrected by every base where leave-one-out says it pays; none from the fingerprint "
        "alone; `DevicePredictor::blend`), **finetune** (`fine_tune_from` on the samples plus the fingerprint), "
        "**additive** (a sum of per-operation costs: the one base's least-squares table over 2000 random "
        "architectures, scaled, plus the network's MACs, plus a per-operation correction where leave-one-out "
        "says the samples pay for it; `fit_additive_device`), **adapt** "
        "(`adapt_to_device`, what `hwnas adapt` does: the blend below 100 samples); **trivial**: the other device "
        "whose fingerprint ranks the references most alike, its own measurements mapped by a line through the "
        f"fingerprint. Means over the {len(cols)} held-out columns:\n")
    r.w("| N | one base: RMSE % / Kendall / Spearman | blend: RMSE % / Kendall / Spearman | "
        "finetune: RMSE % / Kendall / Spearman | additive: RMSE % / Kendall / Spearman | adapt: RMSE % / Spearman |")
    r.w("|---:|---|---|---|---|---|")
    three = lambda m: f"{m['rmse_pct']:.2f} / {m['kendall']:.3f} / {m['spearman']:.3f}"
    for p in fj["mean_over_held_out_columns"]:
        r.w(f"| {p['n']} | {three(p['fingerprint'])} | {three(p['blend'])} | {three(p['finetune'])} | "
            f"{three(p['additive'])} | {p['adapt']['rmse_pct']:.2f} / {p['adapt']['spearman']:.3f} |")
    triv = [fj["columns"][c]["trivial"] for c in cols]
    r.w(f"| trivial | {statistics.mean(t['rmse_pct'] for t in triv):.2f} / "
        f"{statistics.mean(t['kendall'] for t in triv):.3f} / {statistics.mean(t['spearman'] for t in triv):.3f} "
        "| | | | |")
    r.w(f"| own model (ceiling) | {three(ceiling)} | | | | |")
    r.w("")
    r.w("Per held-out column at N = 10 (RMSE %, Spearman in brackets; the one base for the first seed):\n")
    r.w("| column | trivial | one base | blend | finetune | additive | own model | base |")
    r.w("|---|---:|---:|---:|---:|---:|---:|---|")
    cell = lambda m: f"{m['rmse_pct']:.2f} ({m['spearman']:.3f})"
    for c in cols:
        col = fj["columns"][c]
        pt = next((p for p in col["curve"] if p["n"] == 10), None)
        if pt is None:
            continue
        r.w(f"| {c} | {cell(col['trivial'])} ({col['trivial']['device']}) | {cell(pt['fingerprint'])} | "
            f"{cell(pt['blend'])} | {cell(pt['finetune'])} | {cell(pt['additive'])} | {cell(fj['per_device'][c])} | "
            f"{pt['bases_per_seed'][0]} |")
    r.w("")
    low = min(fj["columns"][c]["lowest_blend_prediction"] / fj["columns"][c]["lowest_measured"] for c in cols)
    r.w("A blend may weigh bases negatively; its smallest prediction over the test rows and 2000 random "
        f"architectures, over every N and seed, is {low:.2f}× the column's smallest measured latency at worst "
        "(the lowest over the columns).\n")
    r.w(f"Run time {fj['seconds'] / 60:.1f} min on one core.\n")
    adapt_speed(r)
    fbnet_peers(r)
    at10 = next((p for p in fj["mean_over_held_out_columns"] if p["n"] == 10), None)
    if at10:
        best = min(("fingerprint", "blend", "finetune", "additive"), key=lambda k: at10[k]["rmse_pct"])
        best = "one base" if best == "fingerprint" else best
        r.check("FBNet, fingerprint + 10 samples: mean Spearman ≥ 0.95 over held-out devices",
                at10["adapt"]["spearman"] >= 0.95,
                f"adapt {at10['adapt']['spearman']:.3f} (own model with ~4000 samples: {ceiling['spearman']:.3f}); "
                f"best strategy by RMSE: {best}")
        r.check("FBNet, fingerprint + 10 samples: mean RMSE ≤ 4 % over held-out devices",
                at10["adapt"]["rmse_pct"] <= 4,
                f"adapt {at10['adapt']['rmse_pct']:.2f} % (own model: {ceiling['rmse_pct']:.2f} %)")
        ns = [p["n"] for p in fj["mean_over_held_out_columns"]]
        rm = [p["adapt"]["rmse_pct"] for p in fj["mean_over_held_out_columns"]]
        worse = [f"N = {ns[i]}: {rm[i]:.2f} % after {rm[i - 1]:.2f} %" for i in range(1, len(rm)) if rm[i] > rm[i - 1] + 0.05]
        r.check("FBNet: adapt's mean RMSE not worse with more samples (by more than 0.05 points)", not worse,
                "; ".join(worse) if worse else " → ".join(f"{v:.2f}" for v in rm) + " %")


def fbnet_peers(r):
    path = r.path("fbnet_peers.jsonl")
    if not os.path.exists(path):
        return
    peers = {"hwnas-default": "hwnas `default`", "torch-mlp": "PyTorch MLP", "sklearn-ridge": "Ridge",
             "sklearn-hgb": "gradient boosting"}
    runs = {}
    for line in open(path):
        j = json.loads(line)
        peer = "torch-mlp" if j["peer"].startswith("pytorch") else j["peer"]  # torch_mlp.py names its torch version
        runs.setdefault(j["target"], {})[peer] = j
    r.w("### FBNet: hwnas against the peers\n")
    r.w("Each column on the benchmark split (test RMSE %, Spearman in brackets, all test rows): `hwnas train "
        "--space fbnet` with the `default` recipe against the peers of `../shared/peers` on the space's one-hot "
        "encoding (198 features; `tools/results/fbnet_peers.sh`, one process at a time, side by side in one run).\n")
    r.w("| column | " + " | ".join(peers.values()) + " | best peer |")
    r.w("|---|" + "---:|" * len(peers) + "---|")
    lost = []
    for col, got in runs.items():
        cells = [f"{got[p]['test_rmse_pct']:.3f} ({got[p]['test_spearman']:.3f})" if p in got else "–" for p in peers]
        others = [(got[p]["test_rmse_pct"], p) for p in peers if p != "hwnas-default" and p in got]
        best = min(others) if others else None
        r.w(f"| {col} | " + " | ".join(cells) + f" | {peers[best[1]] if best else '–'} |")
        if best and "hwnas-default" in got and got["hwnas-default"]["test_rmse_pct"] >= best[0]:
            lost.append(f"{col} ({peers[best[1]]} {best[0]:.3f} % against {got['hwnas-default']['test_rmse_pct']:.3f} %)")
    r.w("")
    r.check("FBNet, per device: `default` beats Ridge, gradient boosting and the PyTorch MLP on every column",
            not lost, f"all {len(runs)} columns" if not lost else "not on " + ", ".join(lost))


def adapt_speed(r):
    """bench/adapt: adapt_to_device against fine_tune_from, and the blend's cost per architecture."""
    if not os.path.exists(r.path("speed", "adapt.json")):
        return
    _, rows = bench_rows(r.path("speed", "adapt.json"))
    errors = [f"{n}: {b.get('error_message')}" for n, b in rows.items() if b.get("error_occurred")]
    if errors:
        r.check("FBNet: adapting to a new device with 10 samples ≤ 1 s", None, "; ".join(errors))
        return
    ms = lambda name: rows[name]["real_time"] * TIME_SCALE[rows[name]["time_unit"]] * 1e3
    adapt10, adapt50, tune10 = ms("BM_Adapt/samples:10"), ms("BM_Adapt/samples:50"), ms("BM_FineTune/samples:10/iterations:1")
    one, blend = ms("BM_PredictOne/blend:0") * 1e3, ms("BM_PredictOne/blend:1") * 1e3
    bases = int(rows["BM_Adapt/samples:10"]["bases"])
    r.w(f"Speed (`bench/adapt`, one thread): titanx_32 from a fingerprint model of the {bases} other columns, "
        "its fingerprint and N samples.\n")
    r.w("| measure | time |")
    r.w("|---|---:|")
    r.w(f"| `adapt_to_device`, N = 10 (the blend) | {adapt10:.1f} ms |")
    r.w(f"| `adapt_to_device`, N = 50 | {adapt50:.1f} ms |")
    r.w(f"| `fine_tune_from`, N = 10 (one run) | {tune10:.0f} ms ({tune10 / adapt10:.0f}× the blend) |")
    r.w(f"| one architecture's latency, one base | {one:.2f} µs |")
    members = int(rows["BM_PredictOne/blend:1"].get("members", 0))
    r.w(f"| one architecture's latency, the blend of N = 50 ({members} members: the line and the bases it weighs) "
        f"| {blend:.2f} µs |")
    r.w(f"| `fit_additive_device`, N = 10 (the table over 2000 random architectures included) | "
        f"{ms('BM_FitAdditive/samples:10'):.1f} ms |")
    r.w(f"| one architecture's latency, the additive model | {ms('BM_PredictAdditive') * 1e3:.2f} µs |")
    r.w("")
    r.check("FBNet: adapting to a new device with 10 samples ≤ 1 s", adapt10 <= 1000, f"{adapt10:.1f} ms")


def cpu_devices(r):
    if not os.path.exists(r.path("cpu_devices.json")):
        return
    cj = load(r.path("cpu_devices.json"))
    big = cj["devices"][1]
    on = cj[f"on_{big}"]
    r.w("### Beyond GPUs: two configurations of this CPU\n")
    r.w(f"`experiments/cpu_devices`: the built-in executor at batch 1 (`cpu_b1`) and batch {big[5:]} (`{big}`) are "
        f"two devices. A model trained on {cj['networks']['train']} batch-1 networks predicts "
        f"{cj['networks']['test']} test networks at batch {big[5:]} from nothing but `{big}`'s fingerprint "
        f"({cj['networks']['reference']} reference networks); median test latency {cj['median_ms']['cpu_b1']:.1f} ms "
        f"at batch 1, {cj['median_ms'][big]:.1f} ms at batch {big[5:]}. Line found: log y = "
        f"{cj['mapping']['intercept']:.3f} + {cj['mapping']['slope']:.3f} log y_b1. Everything measured in this run "
        f"({cj['measure_s']:.0f} s).\n")
    r.w("| predicting `" + big + "` with | RMSE % | MAPE % | Kendall | Spearman |")
    r.w("|---|---:|---:|---:|---:|")
    for key, label in (("fingerprint", "the fingerprint mapping"),
                       ("scaled_by_mean_ratio", "the batch-1 model × the fingerprints' mean ratio"),
                       ("cpu_b1_model_as_is", "the batch-1 model as it is")):
        m = on[key]
        r.w(f"| {label} | {m['rmse_pct']:.2f} | {m['mape']:.2f} | {m['kendall']:.3f} | {m['spearman']:.3f} |")
    m = cj["cpu_b1_model_on_cpu_b1"]
    r.w(f"| (the batch-1 model on batch 1) | {m['rmse_pct']:.2f} | {m['mape']:.2f} | {m['kendall']:.3f} | "
        f"{m['spearman']:.3f} |")
    r.w("")


def cpu_study(r):
    run = r.run
    cpu_n, cpu_small, cpu_test = run.cpu_n, run.cpu_small, run.cpu_test
    cpu_dir = r.path("cpu")
    if not os.path.exists(os.path.join(cpu_dir, f"train-{cpu_n}.json")):
        return
    from scipy.stats import kendalltau, spearmanr  # only this study needs SciPy

    with open(os.path.join(cpu_dir, "cpu.csv"), newline="") as f:
        crow = list(csv.DictReader(f))
    cid = np.array([int(x["id"]) for x in crow])
    cy = np.array([float(x["cpu"]) for x in crow])
    ctest = cid >= cpu_n

    def cpu_metrics(p):
        y, q = cy[ctest], np.asarray(p, float)[ctest]
        e = q - y
        return dict(rmse_pct=100 * math.sqrt(float(np.mean(e ** 2))) / float(np.mean(y)),
                    mape=100 * float(np.mean(np.abs(e) / y)), median_ape=100 * float(np.median(np.abs(e) / y)),
                    kendall=float(kendalltau(y, q)[0]), spearman=float(spearmanr(y, q)[0]),
                    bias=100 * float(np.mean(e / y)))

    lut_p = prediction_values(os.path.join(cpu_dir, "lut-pred.json"))
    # The LUT rescaled by one factor fitted on the small dataset's rows: how
    # much of its error is a constant offset.
    small = cid < cpu_small
    scale = float(np.sum(lut_p[small] * cy[small]) / np.sum(lut_p[small] ** 2))
    lut_s = load(os.path.join(cpu_dir, "lut.json"))
    m_small = load(os.path.join(cpu_dir, f"measure-{cpu_small}.json"))
    m_n = load(os.path.join(cpu_dir, f"measure-{cpu_n}.json"))
    m_all = load(os.path.join(cpu_dir, f"measure-{cpu_n + cpu_test}.json"))
    t_small, t_n = m_small["seconds"], m_small["seconds"] + m_n["seconds"]
    rows_cpu = [
        ("lookup table: sum of the layers measured alone", lut_s["seconds"], lut_p),
        (f"lookup table × {scale:.3f} (one factor fitted on the {cpu_small} measured networks)",
         lut_s["seconds"] + t_small, lut_p * scale),
    ]
    for n in (cpu_small, cpu_n):
        tj = load(os.path.join(cpu_dir, f"train-{n}.json"))
        rows_cpu.append((f"predictor (`default` recipe) trained on {n} networks",
                         (t_small if n == cpu_small else t_n) + tj["train_s"],
                         prediction_values(os.path.join(cpu_dir, f"pred-{n}.json"))))
    r.w("## Lookup table or predictor? This machine's CPU\n")
    r.w(f"OFA MobileNetV3 w1.0 at r = 160, 176, 192, 208, 224, timed on one core of this machine with hwnas's built-in "
        f"CPU executor (batch 1, {run.cpu_warmup} warm-up and {run.cpu_repeats} timed runs each, Tukey-trimmed median "
        f"for networks, mean for layers as OFA stores it). Commands: `hwnas lut build`, `hwnas measure` (resumed from "
        f"{cpu_small} to {cpu_n} to {cpu_n + cpu_test} networks, so each dataset's cost is its own), `hwnas train "
        f"--split ids:…`. Every estimate is scored against the measured latency of the last {cpu_test} networks "
        f"(ids {cpu_n}–{cpu_n + cpu_test - 1}), which no model saw.\n")
    r.w("| latency source | cost to build (wall) | RMSE % | MAPE % | median APE % | mean error % | Kendall | Spearman |")
    r.w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, cost, p in rows_cpu:
        mm = cpu_metrics(p)
        r.w(f"| {name} | {cost / 60:.1f} min | {mm['rmse_pct']:.2f} | {mm['mape']:.2f} | {mm['median_ape']:.2f} | "
            f"{mm['bias']:+.2f} | {mm['kendall']:.3f} | {mm['spearman']:.3f} |")
    r.w("")
    # Drift: the rows were measured in id order over many minutes; the large
    # predictor's relative error per window of 300 ids shows how the
    # machine's speed moved (a shared VM) independently of the networks.
    p_big = prediction_values(os.path.join(cpu_dir, f"pred-{cpu_n}.json"))
    windows = []
    for lo in range(0, cpu_n + cpu_test, 300):
        sel = (cid >= lo) & (cid < lo + 300)
        if sel.any():
            windows.append((lo, float(np.mean((p_big[sel] - cy[sel]) / cy[sel])),
                            float(np.mean((lut_p[sel] - cy[sel]) / cy[sel]))))
    med_cv = 100 * float(np.median([float(x["cpu_std"]) / float(x["cpu"]) for x in crow]))
    r.w("What this shows:\n")
    lut_bias, lut_rho = cpu_metrics(lut_p)["bias"], cpu_metrics(lut_p)["spearman"]
    if abs(lut_bias) >= 5:
        r.w(f"- **The lookup table {'under' if lut_bias < 0 else 'over'}-estimates whole networks** by "
            f"{abs(lut_bias):.1f} % on the test rows, and by about the same in every time window (table below): a "
            "layer timed alone runs with its weights and input hot in the caches, inside a network they were evicted "
            f"by the layers before. It still ranks networks well (Spearman {lut_rho:.3f}): a constant factor is most "
            "of its error.")
    else:
        r.w(f"- **The lookup table is nearly unbiased on whole networks** in this run (mean error {lut_bias:+.1f} % "
            f"on the test rows; earlier runs on this VM saw the sum of layers timed alone up to 17 % low, the layers' "
            f"caches being hot when timed alone) and ranks networks well (Spearman {lut_rho:.3f}).")
    r.w(f"- **The machine drifts.** Each network's own runs vary little (median relative std {med_cv:.1f} % over "
        f"{run.cpu_repeats} runs), but the measurement took {(t_n + m_all['seconds']) / 60:.0f} minutes on a shared "
        "2-core VM, and the whole machine's speed moved by several percent between windows of it. Mean relative "
        "error of the predictor trained on the most rows, and of the lookup table, per 300 ids in measurement "
        "order:\n")
    r.w("| ids | " + " | ".join(f"{lo}–{lo + 299}" for lo, _, _ in windows) + " |")
    r.w("|---|" + "---:|" * len(windows))
    r.w("| predictor | " + " | ".join(f"{100 * b:+.1f} %" for _, b, _ in windows) + " |")
    r.w("| lookup table | " + " | ".join(f"{100 * b:+.1f} %" for _, _, b in windows) + " |")
    r.w("")
    r.w("  Where the machine was steady the predictor is within about 3 % (RMSE) of the measurements; the RMSE "
        "on the test rows is mostly that drift, which no estimator can know. A learned predictor absorbs a "
        "machine's level from its own samples, a lookup table does not: its error is its bias plus the "
        "drift.\n")
    r.w(f"Build costs: the lookup table measured {lut_s['measured'] + lut_s['resumed']} layer keys in "
        f"{lut_s['seconds']:.0f} s; {cpu_small} networks took {t_small / 60:.1f} min and {cpu_n} took "
        f"{t_n / 60:.1f} min (the predictors' training adds seconds). The {cpu_test} test networks took "
        f"{m_all['seconds'] / 60:.1f} min more.\n")


def search_comparison(r):
    """The search comparison; returns its output (the Pareto section uses it) or None."""
    if not os.path.exists(r.path("search.json")):
        return None
    sj = load(r.path("search.json"))
    budgets = sj["budgets"]
    r.w("## Searching with each latency source\n")
    r.w(f"OFA's evolutionary search (population 100, {sj['generations']} generations, OFA's mutation and "
        f"crossover) with OFA's trained accuracy predictor as fitness, on the width-1.2 CompOFA spaces at "
        f"r = 160..224 step 16, {sj['seeds']} seeds, all 5 budgets in one run per seed (they share evaluations). "
        "Latency sources: `lut` = OFA's Note10 tables (the ground truth here); `mlp` = hwnas's `default` "
        "predictor trained on 1000 LUT-labelled random architectures (850 train, 150 validation); `+memo` = "
        "memoisation; `+margin` = a safety margin (`hwnas::latency_margin`), the predictor's worst relative "
        "under-estimate on its validation rows. Every winner's latency is re-scored with the LUT. "
        "`experiments/search_comparison --full`.\n")
    ok_lut_opt, ok_mlp_lat, ok_mlp_acc = True, True, True
    for sp in sj["spaces"]:
        opt = sp["optimum"]
        fixed = opt[0] is not None
        r.w(f"### {sp['space']}\n")
        r.w(f"The predictor's test RMSE against the LUT on 1000 other random architectures: "
            f"{sp['mlp_test_rmse_pct']:.3f} % (Spearman {sp['mlp_test_spearman']:.4f}); "
            f"margin {100 * sp['margin']:.2f} %.\n")
        head = "| latency source | budget (ms) | mean top-1 (%) | worst true latency / budget | seeds over budget |"
        head += (" exact optimum found | mean evaluations | cache hit rate | mean search (s) |" if fixed else
                 " mean evaluations | cache hit rate | mean search (s) |")
        r.w(head)
        r.w("|---" * (head.count("|") - 1) + "|")
        for mode in sp["modes"]:
            runs = mode["runs"]
            evals = statistics.mean(x["latency_evaluations"] for x in runs)
            hits = statistics.mean(x["latency_cache_hits"] / max(1, x["latency_cache_hits"] + x["latency_evaluations"])
                                   for x in runs)
            secs = statistics.mean(x["search_s"] for x in runs)
            for bi, b in enumerate(budgets):
                wins = [x["budgets"][bi] for x in runs]
                acc_mean = 100 * statistics.mean(x["accuracy"] for x in wins)
                worst = max(x["true_latency"] / b for x in wins)
                over = sum(x["true_latency"] > b for x in wins)
                cells = [mode["mode"] if bi == 0 else "", f"{b:g}", f"{acc_mean:.3f}", f"{worst:.4f}", str(over)]
                if fixed:
                    found = sum(abs(x["accuracy"] - opt[bi]) < 1e-9 for x in wins)
                    cells.append(f"{found}/{len(wins)}")
                    if mode["mode"] == "lut" and found < 9:
                        ok_lut_opt = False
                    if mode["mode"].startswith("mlp") and min(x["accuracy"] for x in wins) < opt[bi] - 0.002:
                        ok_mlp_acc = False
                if mode["mode"] == "mlp+memo+margin" and worst > 1.02:
                    ok_mlp_lat = False
                cells += [f"{evals:.0f}" if bi == 0 else "", f"{100 * hits:.1f} %" if bi == 0 else "",
                          f"{secs:.3f}" if bi == 0 else ""]
                r.w("| " + " | ".join(cells) + " |")
        r.w("")
    cost = sj.get("estimate_cost_us")
    if cost:
        r.w("### The cost of one latency estimate (the method's Table 5)\n")
        r.w("| source | time per architecture |")
        r.w("|---|---:|")
        r.w(f"| lookup table (`LutEstimator::predict`, one architecture) | {cost['lut']:.2f} µs |")
        r.w(f"| predictor (`LatencyPredictor::predict`, one architecture) | {cost['mlp']:.2f} µs |")
        r.w(f"| live measurement on this CPU (built-in executor, 2 warm-up + 5 timed runs) | "
            f"{cost['measure_cpu'] / 1000:.1f} ms |")
        r.w("")
    r.check("search with the LUT: exact optimum in ≥ 9 of 10 seeds, every budget (fixed-kernel)", ok_lut_opt, "")
    r.check("search with the predictor: winners' true latency ≤ 1.02 × budget", ok_mlp_lat,
            "with the safety margin (`mlp+memo+margin`); without it the search exploits the "
            "predictor's under-estimates")
    r.check("search with the predictor: accuracy within 0.2 points of the optimum (fixed-kernel)", ok_mlp_acc, "")
    return sj
