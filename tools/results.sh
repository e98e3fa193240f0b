#!/usr/bin/env bash
# Regenerates docs/results.md and docs/plots/*.svg from scratch on this
# machine: hwnas against the peers of ../shared/peers on HELP's 9 GPU columns
# (../shared/data/help-ofa/ofa_gpu_latency.csv, benchmark split).
#
#   tools/results.sh            # from the repository root; about 45 min on 2 cores
#
# What it does, in order:
#   1. configures and builds a Release build with benchmarks in build-bench/
#      (the hwnas program and bench/predictor, bench/tune);
#   2. accuracy: for each device column, `hwnas train --recipe paper|default
#      --json` (whatever `default` is at run time), torch_mlp.py with both
#      encodings, sklearn_baselines.py (Ridge and gradient boosting, both
#      encodings), then `hwnas predict` on every row for the plots. These
#      runs do not time anything, so JOBS of them run at once;
#   3. speed: PAIRS alternating pairs of bench/predictor and
#      `torch_mlp.py --threads 1 --time-inference` (one process at a time;
#      medians and ratios of medians), PAIRS pairs of bench/search and
#      py_evolution.py (one 500-generation search, LUT and MLP latency), then
#      bench/tune once (36-configuration ASHA, 2 threads);
#   4. this machine's CPU with the built-in executor (one process at a
#      time): a lookup table of OFA MobileNetV3 w1.0 at r = 160..224 step 16,
#      then CPU_N + CPU_TEST sub-networks (`hwnas lut build`, `hwnas
#      measure`, timed as they go), predictors trained on the first CPU_SMALL
#      and CPU_N rows, all scored against the last CPU_TEST rows;
#   5. examples/finetune_curve (issue 3 §4: fine-tuning to a new device from
#      N samples), examples/search_comparison --full (issue 5 §2: OFA's
#      search with the LUT, an MLP, memoisation, a margin),
#      examples/generalisation --full (issue 6: leave one GPU out, new devices
#      from a fingerprint and N samples) and examples/cpu_devices (issue 6 §4,
#      one process at a time: it times networks);
#   6. writes docs/results.md (tables, targets met or not, machine) and one
#      predicted-vs-measured SVG per column in docs/plots/.
# Raw outputs (JSON, logs, models) stay in build-bench/results/.
#
# Environment (optional):
#   JOBS=2          accuracy runs at once
#   PAIRS=3         hwnas/peer timing pairs
#   COLUMNS="..."   device columns (default: all 9); for a quick check
#   SKIP_TUNE=1     leave out the tuning benchmark (the doc says so)
#   SKIP_CPU=1      leave out the CPU lookup-table-vs-predictor study (step 4)
#   SKIP_FINETUNE=1, SKIP_SEARCH=1   leave out the studies of step 5 (SKIP_SEARCH also the search speed pairs)
#   SKIP_GENERALISATION=1   leave out examples/generalisation and cpu_devices
#   FINETUNE_JSON=FILE   use this output of examples/finetune_curve instead of running it
#   GENERALISATION_JSON=FILE   the same for examples/generalisation --full
#   REPORT_ONLY=1   rewrite docs/results.md from the raw outputs of the last run
#                   (build-bench/results/) without measuring anything
#   CPU_N=4000 CPU_SMALL=700 CPU_TEST=200 CPU_WARMUP=2 CPU_REPEATS=8
#                   its sizes and timing protocol
#   CLEAN=1         delete build-bench/ first (a pristine build)
#   BUILD_DIR, HWNAS_DATA_DIR, HWNAS_PEERS_DIR, PYTHON (/usr/bin/python3)
#
# Needs: cmake, a C++20 compiler, Eigen 3.4, nlohmann_json, CLI11, Google
# Benchmark (libbenchmark-dev), and the peers' Python packages
# (python3-torch python3-sklearn python3-scipy libopenblas0-pthread).
set -euo pipefail

START=$(date +%s)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-bench}
DATA_DIR=${HWNAS_DATA_DIR:-$ROOT/../shared/data}
PEERS=${HWNAS_PEERS_DIR:-$ROOT/../shared/peers}
PY=${PYTHON:-/usr/bin/python3}
JOBS=${JOBS:-2}
PAIRS=${PAIRS:-3}
ALL_COLUMNS="2080ti_1 2080ti_32 2080ti_64 titan_xp_1 titan_xp_32 titan_xp_64 v100_1 v100_32 v100_64"
COLUMNS=${COLUMNS:-$ALL_COLUMNS}
SPEED_COLUMN=v100_64
CPU_N=${CPU_N:-4000}
CPU_SMALL=${CPU_SMALL:-700}
CPU_TEST=${CPU_TEST:-200}
CPU_WARMUP=${CPU_WARMUP:-2}
CPU_REPEATS=${CPU_REPEATS:-8}
CSV=$DATA_DIR/help-ofa/ofa_gpu_latency.csv
WORK=$BUILD/results

say() { printf '[results %4ds] %s\n' $(( $(date +%s) - START )) "$*" >&2; }
die() { printf 'results.sh: error: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------ checks ---
[[ -f $CSV ]] || die "$CSV not found (set HWNAS_DATA_DIR to the folder holding help-ofa/)"
for f in torch_mlp.py sklearn_baselines.py common.py; do
  [[ -f $PEERS/$f ]] || die "$PEERS/$f not found (set HWNAS_PEERS_DIR)"
done
[[ -x $PY ]] || command -v "$PY" >/dev/null || die "no Python at $PY (set PYTHON)"
"$PY" -c 'import numpy, scipy, sklearn, torch' 2>/dev/null ||
  die "$PY cannot import numpy, scipy, sklearn and torch; install python3-torch python3-sklearn python3-scipy libopenblas0-pthread (../shared/peers/README.md)"
command -v cmake >/dev/null || die "cmake not found"
[[ $PAIRS =~ ^[1-9][0-9]*$ ]] || die "PAIRS must be a positive integer, found '$PAIRS'"
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "JOBS must be a positive integer, found '$JOBS'"
if [[ " $COLUMNS " != *" $SPEED_COLUMN "* ]]; then
  COLUMNS="$COLUMNS $SPEED_COLUMN"  # the prediction benchmarks load its models
fi
NCPU=$(nproc --all)  # before the exports below: GNU nproc honours OMP_NUM_THREADS
# Single-thread peers: OpenBLAS and OpenMP (gradient boosting) would
# otherwise start a thread per core and spin against the other jobs.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

# ------------------------------------------------------------------- build ---
if [[ ${CLEAN:-0} == 1 ]]; then
  say "CLEAN=1: removing $BUILD"
  rm -rf "$BUILD"
fi
GEN=()
if [[ ! -f $BUILD/CMakeCache.txt ]] && command -v ninja >/dev/null; then GEN=(-G Ninja); fi
say "configuring $BUILD (Release, benchmarks on)"
mkdir -p "$BUILD"
cmake -S "$ROOT" -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DHWNAS_BUILD_BENCHMARKS=ON \
  -DHWNAS_BUILD_TESTS=OFF -DHWNAS_BUILD_EXAMPLES=ON -DHWNAS_INSTALL=OFF >"$BUILD/results-configure.log" 2>&1 ||
  { cat "$BUILD/results-configure.log" >&2; die "cmake configure failed (log above)"; }
say "building hwnas, bench/predictor, bench/tune"
cmake --build "$BUILD" --parallel "$NCPU" --target hwnas_cli hwnas_bench_predictor hwnas_bench_tune hwnas_bench_search \
  hwnas_example_finetune_curve hwnas_example_search_comparison hwnas_example_generalisation \
  hwnas_example_cpu_devices \
  >"$BUILD/results-build.log" 2>&1 || { tail -n 40 "$BUILD/results-build.log" >&2; die "build failed (log: $BUILD/results-build.log)"; }
HWNAS=$BUILD/tools/hwnas
for exe in "$HWNAS" "$BUILD/bench/predictor" "$BUILD/bench/tune" "$BUILD/bench/search"; do
  [[ -x $exe ]] || die "$exe was not built"
done

if [[ ${REPORT_ONLY:-0} == 1 ]]; then
  [[ -d $WORK/acc ]] || die "REPORT_ONLY=1: no previous run in $WORK"
  say "REPORT_ONLY=1: reusing the raw outputs in $WORK"
else
rm -rf "$WORK"
mkdir -p "$WORK"/{acc,logs,models,pred,speed,jobs}

# A wrapper that runs a peer script unchanged but also records the test
# predictions and their median APE (the peers print mean APE only).
cat >"$WORK/peer_run.py" <<'PYEOF'
import atexit, json, os, runpy, sys
import numpy as np
peers, pred_out, script = sys.argv[1:4]
sys.path.insert(0, peers)
import common
_metrics, _last = common.metrics, {}
def metrics(y, p):
    m = _metrics(y, p)
    y = np.asarray(y, np.float64); p = np.asarray(p, np.float64)
    m["median_ape"] = 100 * float(np.median(np.abs(p - y) / y))
    _last.update(y=y.tolist(), p=p.tolist())  # the last call is on the test rows
    return m
common.metrics = metrics
atexit.register(lambda: _last and json.dump(_last, open(pred_out, "w")))
sys.argv = [script] + sys.argv[4:]
runpy.run_path(os.path.join(peers, script), run_name="__main__")
PYEOF

# ---------------------------------------------------------------- accuracy ---
job() {  # job NAME COMMAND...: stdout -> acc/NAME.json, stderr -> logs/NAME.log
  local name=$1; shift
  printf '%q ' "$@" >"$WORK/jobs/$name.sh"
}
n=0
for col in $COLUMNS; do
  for recipe in paper default; do
    job "hwnas-$recipe-$col" "$HWNAS" train --data "$CSV" --target "$col" --recipe "$recipe" \
      -o "$WORK/models/$recipe-$col.hwnas" --json
    n=$((n + 1))
  done
done
for col in $COLUMNS; do
  for enc in paper res25; do
    job "torch-$enc-$col" "$PY" "$WORK/peer_run.py" "$PEERS" "$WORK/pred/torch-$enc-$col.json" torch_mlp.py \
      --data "$CSV" --target "$col" --encoding "$enc" --threads 1
    job "hgb-$enc-$col" "$PY" "$WORK/peer_run.py" "$PEERS" "$WORK/pred/hgb-$enc-$col.json" sklearn_baselines.py \
      --data "$CSV" --target "$col" --encoding "$enc" --model hgb
    job "ridge-$enc-$col" "$PY" "$WORK/peer_run.py" "$PEERS" "$WORK/pred/ridge-$enc-$col.json" sklearn_baselines.py \
      --data "$CSV" --target "$col" --encoding "$enc" --model ridge
    n=$((n + 3))
  done
done
cat >"$WORK/run_job.sh" <<'SHEOF'
#!/usr/bin/env bash
# run_job.sh WORK NAME: one accuracy run; prints one line when it ends.
work=$1 name=$2
if bash "$work/jobs/$name.sh" >"$work/acc/$name.json" 2>"$work/logs/$name.log"; then
  echo "  done   $name"
else
  echo "  FAILED $name (exit $?; log: $work/logs/$name.log)"
  rm -f "$work/acc/$name.json"
fi
SHEOF
say "accuracy: $n runs, $JOBS at a time (hwnas paper/default, PyTorch paper/res25, Ridge, gradient boosting)"
# hwnas first (the speed phase needs the $SPEED_COLUMN models), then the
# slow peers, so the runs pack well.
(cd "$WORK/jobs" && printf '%s\n' hwnas-*.sh torch-*.sh hgb-*.sh ridge-*.sh) | sed 's/\.sh$//' |
  xargs -P "$JOBS" -I{} bash "$WORK/run_job.sh" "$WORK" {} >&2
missing=()
for f in "$WORK"/jobs/*.sh; do
  name=$(basename "$f" .sh)
  [[ -s $WORK/acc/$name.json ]] || missing+=("$name")
done
((${#missing[@]} == 0)) || die "accuracy runs failed: ${missing[*]} (logs in $WORK/logs/)"

say "predictions of the hwnas models on every row (for the plots)"
for col in $COLUMNS; do
  for recipe in paper default; do
    "$HWNAS" predict --model "$WORK/models/$recipe-$col.hwnas" --arch "@$CSV" --json \
      >"$WORK/pred/hwnas-$recipe-$col.json" 2>"$WORK/logs/predict-$recipe-$col.log" ||
      die "hwnas predict failed for $recipe $col (log: $WORK/logs/predict-$recipe-$col.log)"
  done
done

# ------------------------------------------------------------------- speed ---
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
others() {  # CPU-busy processes that are not ours, at this moment
  ps -eo pid=,pcpu=,comm= --sort=-pcpu |
    awk -v me=$$ '$2 >= 20 && $1 != me {printf "%s%s (%s %% CPU over its life)", sep, $3, $2; sep=", "; n++} END {if (!n) printf "none"}'
}
{
  echo "load_before $(loadavg)"
  echo "others_before $(others)"
} >"$WORK/speed/machine_load.txt"
say "speed: $PAIRS alternating pairs of bench/predictor and torch_mlp.py --time-inference on $SPEED_COLUMN"
export HWNAS_BENCH_MODEL_PAPER=$WORK/models/paper-$SPEED_COLUMN.hwnas
export HWNAS_BENCH_MODEL_DEFAULT=$WORK/models/default-$SPEED_COLUMN.hwnas
for i in $(seq 1 "$PAIRS"); do
  say "  pair $i/$PAIRS: hwnas"
  "$BUILD/bench/predictor" --benchmark_format=json \
    --benchmark_filter='BM_TrainPaper/epochs:100/|BM_EncodePredictOne|BM_PredictBatch|BM_ForwardBatch|BM_EncodeBatch' \
    >"$WORK/speed/hwnas-$i.json" 2>"$WORK/logs/bench-predictor-$i.log" ||
    die "bench/predictor failed (log: $WORK/logs/bench-predictor-$i.log)"
  echo "during_pair_$i $(loadavg) | $(others)" >>"$WORK/speed/machine_load.txt"
  say "  pair $i/$PAIRS: PyTorch"
  (cd "$PEERS" && "$PY" torch_mlp.py --data "$CSV" --target "$SPEED_COLUMN" --threads 1 --time-inference) \
    >"$WORK/speed/torch-$i.json" 2>"$WORK/logs/torch-speed-$i.log" ||
    die "torch_mlp.py --time-inference failed (log: $WORK/logs/torch-speed-$i.log)"
done
if [[ ${SKIP_SEARCH:-0} == 1 ]]; then
  say "SKIP_SEARCH=1: no search speed pairs"
else
  say "speed: $PAIRS alternating pairs of bench/search and py_evolution.py (compofa-elastic w1.2, budget 25 ms)"
  for i in $(seq 1 "$PAIRS"); do
    say "  pair $i/$PAIRS: hwnas"
    "$BUILD/bench/search" --benchmark_format=json >"$WORK/speed/search-hwnas-$i.json" \
      2>"$WORK/logs/bench-search-$i.log" || die "bench/search failed (log: $WORK/logs/bench-search-$i.log)"
    for lat in lut mlp; do
      say "  pair $i/$PAIRS: py_evolution.py --latency $lat"
      (cd "$PEERS" && "$PY" py_evolution.py --data "$DATA_DIR" --space compofa-elastic --latency "$lat" \
        --budget 25 --seed 0) >"$WORK/speed/search-peer-$lat-$i.json" 2>"$WORK/logs/search-peer-$lat-$i.log" ||
        die "py_evolution.py failed (log: $WORK/logs/search-peer-$lat-$i.log)"
    done
    echo "during_search_pair_$i $(loadavg) | $(others)" >>"$WORK/speed/machine_load.txt"
  done
fi
if [[ ${SKIP_TUNE:-0} == 1 ]]; then
  say "SKIP_TUNE=1: no tuning benchmark"
else
  say "speed: bench/tune (36-configuration ASHA, 2 threads; about a minute)"
  "$BUILD/bench/tune" --benchmark_format=json >"$WORK/speed/tune.json" 2>"$WORK/logs/bench-tune.log" ||
    die "bench/tune failed (log: $WORK/logs/bench-tune.log)"
  echo "after_tune $(loadavg) | $(others)" >>"$WORK/speed/machine_load.txt"
fi
echo "load_after $(loadavg)" >>"$WORK/speed/machine_load.txt"

# ------------------------------------------------------ the CPU, measured ---
if [[ ${SKIP_CPU:-0} == 1 ]]; then
  say "SKIP_CPU=1: no lookup-table-vs-predictor study on this CPU"
else
  for v in CPU_N CPU_SMALL CPU_TEST CPU_REPEATS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, found '${!v}'"
  done
  ((CPU_SMALL < CPU_N)) || die "CPU_SMALL ($CPU_SMALL) must be below CPU_N ($CPU_N)"
  CPU=$WORK/cpu
  mkdir -p "$CPU"
  space=(--space ofa-mbv3 --resolutions 160,176,192,208,224)
  timing=(--warmup "$CPU_WARMUP" --repeats "$CPU_REPEATS")
  echo "load_before_cpu $(loadavg) | $(others)" >>"$WORK/speed/machine_load.txt"
  say "CPU: lookup table of every layer key (480), built-in executor"
  "$HWNAS" lut build "${space[@]}" "${timing[@]}" -o "$CPU/lut" --json >"$CPU/lut.json" 2>"$WORK/logs/cpu-lut.log" ||
    die "hwnas lut build failed (log: $WORK/logs/cpu-lut.log)"
  # The first CPU_SMALL rows are a prefix of the first CPU_N (row id i is
  # the i-th distinct draw), so each build's time is the cost of that dataset.
  total=$((CPU_N + CPU_TEST))
  for n in "$CPU_SMALL" "$CPU_N" "$total"; do
    say "CPU: measuring sub-networks up to $n (of $total; about $((total * (CPU_WARMUP + CPU_REPEATS) / 50)) s in all)"
    "$HWNAS" measure "${space[@]}" "${timing[@]}" --n "$n" --column cpu -o "$CPU/cpu.csv" --resume --json \
      >"$CPU/measure-$n.json" 2>"$WORK/logs/cpu-measure-$n.log" ||
      die "hwnas measure failed (log: $WORK/logs/cpu-measure-$n.log)"
  done
  echo "after_cpu $(loadavg) | $(others)" >>"$WORK/speed/machine_load.txt"
  "$HWNAS" lut predict --lut "$CPU/lut" "${space[@]}" --arch "@$CPU/cpu.csv" --json >"$CPU/lut-pred.json" ||
    die "hwnas lut predict failed"
  test_ids="$CPU_N-$((total - 1))"
  for n in "$CPU_SMALL" "$CPU_N"; do
    # The default recipe, its validation rows the last 15 % of the n.
    val=$((n - n * 15 / 100))
    "$HWNAS" train --data "$CPU/cpu.csv" --target cpu "${space[@]}" --recipe default \
      --split "ids:0-$((val - 1)),$val-$((n - 1)),$test_ids" -o "$CPU/model-$n.hwnas" --json \
      >"$CPU/train-$n.json" 2>"$WORK/logs/cpu-train-$n.log" || die "hwnas train on the CPU dataset failed"
    "$HWNAS" predict --model "$CPU/model-$n.hwnas" --arch "@$CPU/cpu.csv" --json >"$CPU/pred-$n.json" ||
      die "hwnas predict on the CPU dataset failed"
  done
fi

# ------------------------------------------------ fine-tuning and search ---
if [[ -n ${FINETUNE_JSON:-} ]]; then
  say "fine-tuning curve: $FINETUNE_JSON (FINETUNE_JSON)"
  cp "$FINETUNE_JSON" "$WORK/finetune.json"
elif [[ ${SKIP_FINETUNE:-0} == 1 ]]; then
  say "SKIP_FINETUNE=1: no fine-tuning curve"
else
  say "fine-tuning curve: examples/finetune_curve (all columns, N = 50..700, 3 seeds; ~15 min)"
  "$BUILD/examples/finetune_curve" "$CSV" --full >"$WORK/finetune.json" 2>"$WORK/logs/finetune.log" ||
    die "examples/finetune_curve failed (log: $WORK/logs/finetune.log)"
fi
if [[ ${SKIP_SEARCH:-0} == 1 ]]; then
  say "SKIP_SEARCH=1: no search comparison"
else
  say "search comparison: examples/search_comparison --full (2 spaces, 4 latency sources, 10 seeds; ~6 min)"
  "$BUILD/examples/search_comparison" "$DATA_DIR" --full >"$WORK/search.json" 2>"$WORK/logs/search.log" ||
    die "examples/search_comparison failed (log: $WORK/logs/search.log)"
fi

if [[ -n ${GENERALISATION_JSON:-} ]]; then
  say "generalisation: $GENERALISATION_JSON (GENERALISATION_JSON)"
  cp "$GENERALISATION_JSON" "$WORK/generalisation.json"
elif [[ ${SKIP_GENERALISATION:-0} == 1 ]]; then
  say "SKIP_GENERALISATION=1: no generalisation study"
else
  say "generalisation: examples/generalisation --full (3 GPUs held out, N = 0..700, 3 seeds; ~15 min)"
  "$BUILD/examples/generalisation" "$CSV" --full >"$WORK/generalisation.json" 2>"$WORK/logs/generalisation.log" ||
    die "examples/generalisation failed (log: $WORK/logs/generalisation.log)"
fi
if [[ ${SKIP_GENERALISATION:-0} != 1 ]]; then
  say "CPU devices: examples/cpu_devices (batch 1 and 4 on this CPU; ~1 min)"
  "$BUILD/examples/cpu_devices" -o "$WORK/cpu_devices" >"$WORK/cpu_devices.json" 2>"$WORK/logs/cpu_devices.log" ||
    die "examples/cpu_devices failed (log: $WORK/logs/cpu_devices.log)"
fi

# ------------------------------------------------------------------ machine ---
{
  echo "cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)"
  echo "cores=$NCPU"
  echo "threads_per_core=$(lscpu | sed -n 's/^Thread(s) per core:[[:space:]]*//p' | head -n1)"
  echo "hypervisor=$(lscpu | sed -n 's/^Hypervisor vendor:[[:space:]]*//p' | head -n1)"
  echo "mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel=$(uname -sr)"
  echo "os=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-?}")"
  echo "cli_flags=$(sed -n 's/^CMAKE_CXX_FLAGS_RELEASE:STRING=//p' "$BUILD/CMakeCache.txt")"
  echo "cmake=$(cmake --version | head -n1)"
  echo "git=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')"
  echo "python=$("$PY" -c 'import sys, numpy, sklearn, torch; print(sys.version.split()[0], "numpy", numpy.__version__, "scikit-learn", sklearn.__version__, "torch", torch.__version__)')"
  echo "blas=$(ls -d /usr/lib/*/openblas-pthread >/dev/null 2>&1 && echo 'OpenBLAS (libopenblas0-pthread)' || echo 'no OpenBLAS found: PyTorch uses a reference BLAS')"
} >"$WORK/machine.txt"
fi  # REPORT_ONLY
if [[ ${REPORT_ONLY:-0} == 1 && -n ${FINETUNE_JSON:-} ]]; then
  cp "$FINETUNE_JSON" "$WORK/finetune.json"
fi
if [[ ${REPORT_ONLY:-0} == 1 && -n ${GENERALISATION_JSON:-} ]]; then
  cp "$GENERALISATION_JSON" "$WORK/generalisation.json"
fi

# ------------------------------------------------------------------- report ---
say "writing docs/results.md and docs/plots/"
mkdir -p "$ROOT/docs/plots"
rm -f "$ROOT"/docs/plots/*.svg
if [[ ${REPORT_ONLY:-0} == 1 ]]; then
  ELAPSED=$(cat "$WORK/elapsed.txt" 2>/dev/null || echo 0)
else
  ELAPSED=$(( $(date +%s) - START ))
  echo "$ELAPSED" >"$WORK/elapsed.txt"
fi
"$PY" - "$ROOT" "$WORK" "$CSV" "$PAIRS" "$ELAPSED" "$COLUMNS" "$SPEED_COLUMN" "$CPU_N" "$CPU_SMALL" "$CPU_TEST" \
  "$CPU_WARMUP" "$CPU_REPEATS" <<'PYEOF'
import csv, json, math, os, statistics, sys
import numpy as np

root, work, csv_path, pairs, elapsed, columns, speed_col = sys.argv[1:8]
cpu_n, cpu_small, cpu_test, cpu_warmup, cpu_repeats = map(int, sys.argv[8:13])
pairs, elapsed, columns = int(pairs), int(elapsed), columns.split()
ALL = "2080ti_1 2080ti_32 2080ti_64 titan_xp_1 titan_xp_32 titan_xp_64 v100_1 v100_32 v100_64".split()
columns = [c for c in ALL if c in columns] + [c for c in columns if c not in ALL]

def load(p):
    with open(p) as f:
        return json.load(f)

# ---- the data: ids, measured latencies, test rows (benchmark split)
with open(csv_path) as f:
    rows = list(csv.DictReader(f))
ids = np.array([int(r["id"]) for r in rows])
test = np.flatnonzero(ids % 20 < 3)

def apes(y, p):
    y, p = np.asarray(y, float), np.asarray(p, float)
    return 100 * np.abs(p - y) / y

# ---- accuracy
MODELS = [  # key, label, json file prefix, is hwnas
    ("hwnas-paper", "hwnas `paper`", True),
    ("hwnas-default", "hwnas `default`", True),
    ("torch-paper", "PyTorch MLP, paper enc.", False),
    ("torch-res25", "PyTorch MLP, res25 enc.", False),
    ("ridge-paper", "Ridge, paper enc.", False),
    ("ridge-res25", "Ridge, res25 enc.", False),
    ("hgb-paper", "Grad. boosting, paper enc.", False),
    ("hgb-res25", "Grad. boosting, res25 enc.", False),
]
PEERS = [k for k, _, h in MODELS if not h]
OUTLIER_PCT = 25  # issue 3: single measurements 25-50 % off the trend
acc, preds = {}, {}
for col in columns:
    y_all = np.array([float(r[col]) for r in rows])
    for key, _, is_hwnas in MODELS:
        j = load(f"{work}/acc/{key}-{col}.json")
        if is_hwnas:
            t = j["test"]
            p = np.asarray(load(f"{work}/pred/{key}-{col}.json")["predictions"], float)
            py, pp = y_all[test], p[test]
            # The plotted predictions must be the evaluated ones.
            r = float(np.sqrt(np.mean((py - pp) ** 2)))
            if abs(r - t["rmse"]) > 1e-3 * max(1.0, t["rmse"]):
                sys.exit(f"results.sh: {key} {col}: RMSE of the saved model's predictions {r} != train's {t['rmse']}")
            acc[key, col] = dict(rmse_pct=t["rmse_pct"], median_ape=t["median_ape"], spearman=t["spearman"],
                                 mape=t["mape"], train_s=j.get("train_s"), epochs=j.get("epochs"),
                                 best_epoch=j.get("best_epoch"))
            preds[key, col] = (py, pp)
        else:
            acc[key, col] = dict(rmse_pct=j["test_rmse_pct"], median_ape=j["test_median_ape"],
                                 spearman=j["test_spearman"], mape=j["test_mape"], params=j.get("params"))
            pj = load(f"{work}/pred/{key}-{col}.json")
            preds[key, col] = (np.asarray(pj["y"]), np.asarray(pj["p"]))
            if not np.allclose(preds[key, col][0], y_all[test]):
                sys.exit(f"results.sh: {key} {col}: the peer's test rows are not the benchmark split's")

def fmt(x, nd=2):
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{nd}f}"

checks = []  # (target, met, detail)
out = []
w = out.append
w("# Results: hwnas against the peers\n")
w("<!-- Generated by tools/results.sh; do not edit by hand. -->\n")
w(f"Regenerate with `tools/results.sh` (from the repository root; this run took "
  f"{elapsed // 60} min {elapsed % 60} s). Data: HELP's `ofa_gpu_latency.csv` (5000 OFA MobileNetV3 "
  "architectures, 9 GPU latency columns), **benchmark split** (`id % 20` in {0,1,2} test = 750 rows, "
  "{3,4,5} validation = 750, the rest train = 3500). Peers: `../shared/peers` (`torch_mlp.py`, "
  "`sklearn_baselines.py`), run unchanged on the same machine in the same run. Raw JSON: "
  "`build-bench/results/`.\n")
w("The `default` recipe is whatever `hwnas train --recipe default` is at the commit the script ran on "
  "(see `include/hwnas/predictor/latency_predictor.hpp`); the `paper` recipe is the method exactly.\n")

# ---- summary of targets (filled below, inserted here)
summary_at = len(out)

# ---- accuracy tables
w("## Accuracy (test rows of the benchmark split)\n")
w("Test RMSE as % of the mean test latency, median absolute percentage error (%), and Spearman rank "
  "correlation. **Bold**: the lowest RMSE % of the column. `paper` encoding = the method's 128-d one-hot "
  "with 8 resolution bins; `res25` = one bit per resolution (128..224 step 4). Gradient boosting and Ridge "
  "pick their hyper-parameters on the validation rows.\n")
w("### Test RMSE %\n")
w("| model | " + " | ".join(columns) + " |")
w("|---|" + "---:|" * len(columns))
best = {c: min(acc[k, c]["rmse_pct"] for k, _, _ in MODELS) for c in columns}
for key, label, _ in MODELS:
    cells = []
    for c in columns:
        v = acc[key, c]["rmse_pct"]
        cells.append(f"**{v:.2f}**" if v == best[c] else f"{v:.2f}")
    w(f"| {label} | " + " | ".join(cells) + " |")
w("")
w("### Median APE % (Spearman)\n")
w("| model | " + " | ".join(columns) + " |")
w("|---|" + "---:|" * len(columns))
for key, label, _ in MODELS:
    w(f"| {label} | " + " | ".join(f"{acc[key, c]['median_ape']:.2f} ({acc[key, c]['spearman']:.3f})"
                                    for c in columns) + " |")
w("")

# ---- accuracy targets
w("### Accuracy targets\n")
w("| column | hwnas `paper` / PyTorch `paper` RMSE (target 0.90–1.10) | hwnas `default` RMSE % | best peer (RMSE %) | `default` < every peer | `default` / PyTorch `paper` (≤ 0.50 on titan_xp_64, v100_64) |")
w("|---|---:|---:|---|:---:|---:|")
paper_ok, default_ok, half_ok = [], [], []
label_of = {k: l for k, l, _ in MODELS}
for c in columns:
    rp = acc["hwnas-paper", c]["rmse_pct"] / acc["torch-paper", c]["rmse_pct"]
    bp = min(PEERS, key=lambda k: acc[k, c]["rmse_pct"])
    d = acc["hwnas-default", c]["rmse_pct"]
    beats = d < acc[bp, c]["rmse_pct"]
    half = d / acc["torch-paper", c]["rmse_pct"]
    paper_ok.append(0.9 <= rp <= 1.1)
    default_ok.append(beats)
    half_cell = f"{half:.2f}"
    if c in ("titan_xp_64", "v100_64"):
        half_ok.append(half <= 0.5)
        half_cell += " ✅" if half <= 0.5 else " ❌"
    w(f"| {c} | {rp:.3f} {'✅' if 0.9 <= rp <= 1.1 else '❌'} | {d:.2f} | {label_of[bp]} ({acc[bp, c]['rmse_pct']:.2f}) | "
      f"{'✅' if beats else '❌'} | {half_cell} |")
w("")
checks.append(("`paper` recipe within ±10 % of the PyTorch peer's test RMSE, every column",
               all(paper_ok), f"{sum(paper_ok)}/{len(paper_ok)} columns"))
checks.append(("`default` recipe below every peer's test RMSE % (incl. res25), every column",
               all(default_ok), f"{sum(default_ok)}/{len(default_ok)} columns"))
if half_ok:
    checks.append(("`default` ≤ half the PyTorch `paper` RMSE % on titan_xp_64 and v100_64",
                   all(half_ok), f"{sum(half_ok)}/{len(half_ok)} columns"))

# ---- outliers
w("### Outliers\n")
w(f"Rows that **every** one of hwnas `default`, PyTorch res25, Ridge res25 and gradient boosting res25 "
  f"misses by more than {OUTLIER_PCT} % are counted as measurement outliers here (four different model families "
  "agreeing on the trend and disagreeing with the measurement); they are not removed from any number "
  "above. Median APE is insensitive to them, RMSE is not.\n")
w("| column | outlier test rows (ids) | measured above the prediction | their worst APE of hwnas `default` | hwnas `default` RMSE % without them | PyTorch `paper` RMSE % without them |")
w("|---|---|---:|---:|---:|---:|")
fam = ["hwnas-default", "torch-res25", "ridge-res25", "hgb-res25"]
outliers = {}
for c in columns:
    y = preds["hwnas-default", c][0]
    miss = np.ones(len(y), bool)
    for k in fam:
        miss &= apes(*preds[k, c]) > OUTLIER_PCT
    outliers[c] = miss
    ids_c = ids[test][miss]
    def rmse_pct_wo(k):
        yy, pp = preds[k, c]
        keep = ~miss
        return 100 * math.sqrt(float(np.mean((yy[keep] - pp[keep]) ** 2))) / float(np.mean(yy[keep]))
    worst = float(apes(*preds["hwnas-default", c])[miss].max()) if miss.any() else float("nan")
    shown = ", ".join(str(i) for i in ids_c[:8]) + (" …" if len(ids_c) > 8 else "")
    yd_, pd_ = preds["hwnas-default", c]
    above = int(np.sum(yd_[miss] > pd_[miss]))
    w(f"| {c} | {int(miss.sum())}{' (' + shown + ')' if miss.any() else ''} | "
      f"{str(above) + ' of ' + str(int(miss.sum())) if miss.any() else '–'} | {fmt(worst, 1)} | "
      f"{rmse_pct_wo('hwnas-default'):.2f} | {rmse_pct_wo('torch-paper'):.2f} |")
w("")

# ---- speed
def bench_rows(p):
    j = load(p)
    return j, {b["name"]: b for b in j.get("benchmarks", []) if b.get("run_type", "iteration") == "iteration"}

def seconds(b):
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
    return b["real_time"] * scale

hw = [bench_rows(f"{work}/speed/hwnas-{i}.json") for i in range(1, pairs + 1)]
pt = [load(f"{work}/speed/torch-{i}.json") for i in range(1, pairs + 1)]
ctx = hw[0][0]["context"]

def hw_vals(name, f):
    vals = []
    for _, b in hw:
        if name not in b:
            sys.exit(f"results.sh: benchmark {name} missing from bench/predictor's output")
        if b[name].get("error_occurred"):
            sys.exit(f"results.sh: {name}: {b[name].get('error_message')}")
        vals.append(f(b[name]))
    return vals

med = statistics.median
train_h = hw_vals("BM_TrainPaper/epochs:100/validation:0/iterations:1/real_time", seconds)
train_p = [t["train_s"] for t in pt]
one_h = hw_vals("BM_EncodePredictOne/paper", lambda b: seconds(b) * 1e6)
one_hd = hw_vals("BM_EncodePredictOne/default", lambda b: seconds(b) * 1e6)
one_p = [t["encode_predict_us"] for t in pt]
batch_h = hw_vals("BM_PredictBatch/paper/real_time", lambda b: b["items_per_second"])
batch_hd = hw_vals("BM_PredictBatch/default/real_time", lambda b: b["items_per_second"])
fwd_h = hw_vals("BM_ForwardBatch/real_time", lambda b: b["items_per_second"])
enc_h = hw_vals("BM_EncodeBatch/real_time", lambda b: b["items_per_second"])
batch_p = [t["batch_predictions_per_s"] for t in pt]

def rng(xs, nd=2):
    return f"{min(xs):.{nd}f}–{max(xs):.{nd}f}"

train_ratio = med(train_p) / med(train_h)
one_ratio = med(one_p) / med(one_h)
batch_ratio = med(batch_h) / med(batch_p)
fwd_ratio = med(fwd_h) / med(batch_p)
pair_train = [p / h for p, h in zip(train_p, train_h)]
pair_one = [p / h for p, h in zip(one_p, one_h)]
pair_batch = [h / p for p, h in zip(batch_p, batch_h)]
pair_fwd = [h / p for p, h in zip(batch_p, fwd_h)]

tune_path = f"{work}/speed/tune.json"
tune = None
if os.path.exists(tune_path):
    _, tb = bench_rows(tune_path)
    name = next((n for n in tb if n.startswith("BM_Tune36")), None)
    if name is None or tb[name].get("error_occurred"):
        sys.exit(f"results.sh: bench/tune gave no result: {tb.get(name, {}).get('error_message')}")
    tune = tb[name]

w("## Speed\n")
w(f"Single thread unless stated; Google Benchmark programs `bench/predictor` and `bench/tune` against "
  f"`torch_mlp.py --threads 1 --time-inference` (with `OPENBLAS_NUM_THREADS=1`) on `{speed_col}`, "
  f"{pairs} alternating pairs (hwnas, then the peer, one process at a time); the table gives the median "
  "of each side, the ratio of the medians, and the range of the per-pair ratios. **The machine was shared** "
  "with other engineers' work (ML experiments, builds): the load averages and the other busy processes "
  "during the speed phase are listed under Machine below. Absolute times are noisy; the ratios, measured "
  "side by side, are what to quote. The tuning benchmark uses both cores, so it is the number most "
  "affected by whatever else ran.\n")
w("| measure | hwnas (median) | PyTorch peer (median) | ratio (median) | per-pair ratios | target | met |")
w("|---|---:|---:|---:|---:|---|:---:|")
ok_train, ok_one, ok_batch = train_ratio >= 2, med(one_h) <= 3, batch_ratio >= 1.3
w(f"| train the `paper` recipe, 3500 rows × 100 epochs (`BM_TrainPaper`) | {med(train_h):.2f} s | "
  f"{med(train_p):.2f} s | {train_ratio:.2f}× faster | {rng(pair_train)} | ≥ 2× faster | {'✅' if ok_train else '❌'} |")
w(f"| encode + predict one architecture (`BM_EncodePredictOne/paper`) | {med(one_h):.2f} µs | "
  f"{med(one_p):.1f} µs | {one_ratio:.1f}× faster | {rng(pair_one, 1)} | ≤ 3 µs | {'✅' if ok_one else '❌'} |")
w(f"| batched prediction, 10 000 archs from `Architecture` (`BM_PredictBatch/paper`) | "
  f"{med(batch_h) / 1e3:.0f} k/s | {med(batch_p) / 1e3:.0f} k/s (pre-encoded) | {batch_ratio:.2f}× | "
  f"{rng(pair_batch)} | ≥ 1.3× | {'✅' if ok_batch else '❌'} |")
w(f"| — the forward pass alone on pre-encoded rows, the peer's exact work (`BM_ForwardBatch`) | "
  f"{med(fwd_h) / 1e3:.0f} k/s | {med(batch_p) / 1e3:.0f} k/s | {fwd_ratio:.2f}× | {rng(pair_fwd)} | (info) | |")
if tune is not None:
    ts = seconds(tune)
    ok_tune = ts <= 60
    w(f"| 36-configuration ASHA tune, 2 threads (`BM_Tune36`) | {ts:.1f} s wall | – | – | – | ≤ 60 s | "
      f"{'✅' if ok_tune else '❌'} |")
w("")
w("Other hwnas numbers from the same runs (no peer equivalent):\n")
w(f"- encode + predict one architecture with the `default` model: {med(one_hd):.2f} µs (range {rng(one_hd)});")
w(f"- batched prediction with the `default` model: {med(batch_hd) / 1e3:.0f} k/s;")
w(f"- `Encoder::encode_batch` (128-d, 10 000 archs): {med(enc_h) / 1e6:.2f} M archs/s;")
if tune is not None:
    w(f"- the tune trained {tune.get('epochs_per_run', float('nan')):.0f} epochs over "
      f"{tune.get('trials', 0):.0f} trials ({tune.get('stopped_early', 0):.0f} stopped early by ASHA); "
      f"CPU time {tune['cpu_time'] * {'ns': 1e-9, 'us': 1e-6, 'ms': 1e-3, 's': 1.0}[tune['time_unit']]:.1f} s "
      f"(the process, both workers: wall × 2 would mean both cores to itself);")
else:
    w("- the tuning benchmark was skipped in this run (SKIP_TUNE=1);")
w(f"- the per-pair raw numbers: hwnas train {', '.join(f'{x:.2f}' for x in train_h)} s, peer "
  f"{', '.join(f'{x:.2f}' for x in train_p)} s; one-arch hwnas {', '.join(f'{x:.2f}' for x in one_h)} µs, "
  f"peer {', '.join(f'{x:.1f}' for x in one_p)} µs; batch hwnas "
  f"{', '.join(f'{x / 1e3:.0f}' for x in batch_h)} k/s, peer {', '.join(f'{x / 1e3:.0f}' for x in batch_p)} k/s.\n")
w("The peer's batched number is `model(xb)` on an already encoded tensor; hwnas's `BM_PredictBatch` starts "
  "from `Architecture` objects (encoding and un-scaling included), so the target row is the conservative "
  "comparison and `BM_ForwardBatch` the like-for-like one. The hwnas training time excludes the per-epoch "
  "validation pass, as the peer does none (`BM_TrainPaper/epochs:10/validation:1` measures its cost).\n")
checks.append(("training the `paper` recipe ≥ 2× faster than `torch_mlp.py --threads 1`", ok_train,
               f"{train_ratio:.2f}× ({med(train_h):.2f} s vs {med(train_p):.2f} s)"))
checks.append(("encode + predict one architecture ≤ 3 µs", ok_one,
               f"{med(one_h):.2f} µs (peer {med(one_p):.1f} µs, {one_ratio:.1f}× faster)"))
checks.append(("batched prediction ≥ 1.3× the peer's predictions/s", ok_batch,
               f"{batch_ratio:.2f}× ({med(batch_h) / 1e3:.0f} k/s vs {med(batch_p) / 1e3:.0f} k/s; "
               f"forward alone {fwd_ratio:.2f}×)"))
if tune is not None:
    checks.append(("36-configuration ASHA tuning ≤ 60 s wall on 2 cores", ok_tune, f"{seconds(tune):.1f} s"))
else:
    checks.append(("36-configuration ASHA tuning ≤ 60 s wall on 2 cores", None, "not run (SKIP_TUNE=1)"))

# ---- search speed (issue 5 §3)
sh_paths = [f"{work}/speed/search-hwnas-{i}.json" for i in range(1, pairs + 1)]
if all(os.path.exists(p) for p in sh_paths):
    sh = [bench_rows(p)[1] for p in sh_paths]
    def sh_row(b, name):  # "BM_Search/lut" is reported as "BM_Search/lut/iterations:3"
        row = next((r for k, r in b.items() if k == name or k.startswith(name + "/")), None)
        if row is None or row.get("error_occurred"):
            sys.exit(f"results.sh: bench/search: {name} missing or failed")
        return row
    def sh_vals(name):
        return [seconds(sh_row(b, name)) for b in sh]
    peer = {lat: [load(f"{work}/speed/search-peer-{lat}-{i}.json")["results"][0] for i in range(1, pairs + 1)]
            for lat in ("lut", "mlp")}
    rows = [("LUT", "BM_Search/lut", "lut"), ("MLP", "BM_Search/mlp", "mlp"),
            ("MLP, memoised (hwnas's default)", "BM_Search/mlp_memo", "mlp")]
    w("### Search speed (issue 5 §3)\n")
    w(f"One full search as `../shared/peers/py_evolution.py` runs it: CompOFA elastic-kernel w1.2 at r = 160..224 "
      "step 16, population 100, 500 generations, budget 25 ms, OFA's accuracy predictor as fitness, seed 0; "
      "the MLP latency predictor is the method's 400-400 trained on 1000 LUT-labelled random architectures "
      "(training not timed on either side). `bench/search` (3 iterations, one thread) against the peer's own "
      f"`search_s` (PyTorch, one thread), {pairs} alternating pairs; medians and the range of the per-pair "
      "ratios.\n")
    w("| latency source | hwnas (median) | Python peer (median) | ratio (median) | per-pair ratios | winner's true latency (hwnas / peer) |")
    w("|---|---:|---:|---:|---|---|")
    ratios = {}
    for label, name, lat in rows:
        h = sh_vals(name)
        pv = [r["search_s"] for r in peer[lat]]
        per = [p_ / h_ for p_, h_ in zip(pv, h)]
        ratios[name] = (med(pv) / med(h), med(h))
        truth = sh_row(sh[0], name)["true_latency_ms"]
        w(f"| {label} | {1000 * med(h):.0f} ms | {med(pv):.2f} s | {med(pv) / med(h):.1f}× faster | "
          f"{min(per):.1f}–{max(per):.1f}× | {truth:.2f} / {peer[lat][0]['true_latency']:.2f} ms |")
    w("")
    ratio_memo, secs_memo = ratios["BM_Search/mlp_memo"]
    checks.append(("500-generation search with the MLP latency predictor ≤ 1 s on one core", secs_memo <= 1.0,
                   f"{secs_memo:.2f} s (memoised, the default; without memoisation "
                   f"{ratios['BM_Search/mlp'][1]:.2f} s)"))
    checks.append(("that search ≥ 5× faster than py_evolution.py", ratio_memo >= 5.0,
                   f"{ratio_memo:.1f}× (without memoisation {ratios['BM_Search/mlp'][0]:.1f}×; "
                   f"with the LUT {ratios['BM_Search/lut'][0]:.1f}×)"))

# ---- the fine-tuning curve (issue 3 §4)
ft_path = f"{work}/finetune.json"
if os.path.exists(ft_path):
    fj = load(ft_path)
    ns = fj["samples"]
    fcols = [c for c in ALL if c in fj["columns"]]
    w("## Fine-tuning to a new device (issue 3 §4)\n")
    w(f"For each target column, N samples of its train rows (seeds {', '.join(map(str, fj['seeds']))}: "
      "`random_subset`, nested, so the 100 contain the 50); 20 % of them validate (seeded hold-out folds) and the rest train — nothing "
      "else of the target device is used — and the column's test rows score. Strategies "
      "(`examples/finetune_curve`, mean test RMSE % over the seeds):\n")
    for name in ("finetune", "scratch", "method"):
        w(f"- **{name}**: {fj['strategies'][name]};")
    w("- **full**: `default_recipe()` on all 3500 train rows of the column with its validation rows.\n")
    w("| column | " + " | ".join(f"N = {n}: fine-tune / scratch / method" for n in ns) + " | full | fine-tune(700) / full |")
    w("|---|" + "---:|" * (len(ns) + 2))
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
            cells.append(f"{'**' if f < sc else ''}{f:.2f}{'**' if f < sc else ''} / {sc:.2f} / {me:.2f}")
        ratio = col["curve"][-1]["finetune"]["rmse_pct"] / col["full"]["rmse_pct"]
        if ratio > 1.15:
            ok_ratio = False
            worst.append(f"{c} {ratio:.2f}")
        w(f"| {c} | " + " | ".join(cells) + f" | {col['full']['rmse_pct']:.2f} | {ratio:.3f}{' ❌' if ratio > 1.15 else ''} |")
    w("| mean | " + " | ".join(f"{means['finetune'][i]:.2f} / {means['scratch'][i]:.2f} / {means['method'][i]:.2f}"
                             for i in range(len(ns))) + " | | |")
    w("")
    w(f"Bold: fine-tuning below scratch on the same samples. The method's fine-tuning (its base on "
      f"{fj['columns'][fcols[-1]]['method_base']}, 2 frozen layers) loses to scratch, as the issue measured in "
      f"PyTorch (21.9 % vs 9.2 %): here {means['method'][-1]:.1f} % vs {means['scratch'][-1]:.1f} % at "
      f"N = {ns[-1]}. Run time {fj['seconds'] / 60:.1f} min on one core.\n")
    checks.append(("fine-tuning beats scratch on the same N samples, every column and N", ok_beat,
                   f"{len(fcols)} columns × {len(ns)} N"))
    checks.append((f"fine-tuning with N = {ns[-1]} within 1.15× of the full-data model, every column", ok_ratio,
                   "all" if ok_ratio else "fails: " + ", ".join(worst)))

def svg_start(W, H, title):
    """An SVG's opening lines: white page, title on top."""
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
            'font-family="sans-serif" font-size="11">',
            f'<rect width="{W}" height="{H}" fill="white"/>',
            f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="13">{title}</text>']

# ---- hardware generalisation (issue 6)
gen_path = f"{work}/generalisation.json"
if os.path.exists(gen_path):
    gj = load(gen_path)
    gcols = [c for c in ALL if c in gj["columns"]]
    ns = gj["samples"]
    G = {c: {pt["n"]: pt for pt in gj["columns"][c]["curve"]} for c in gcols}
    def gmean(strategy, n, key):
        vals = [G[c][n][strategy][key] for c in gcols if strategy in G[c][n]]
        return sum(vals) / len(vals) if len(vals) == len(gcols) else None
    full = {c: gj["columns"][c]["full"] for c in gcols}
    fmean = {k: sum(full[c][k] for c in gcols) / len(gcols) for k in ("rmse_pct", "mape", "kendall", "spearman")}
    w("## Hardware generalisation (issue 6)\n")
    w("Leave one GPU out of HELP's data: a `DevicePredictor` of the other two GPUs' six columns (every batch size) "
      "predicts each batch size of the held-out GPU from that device's **fingerprint** (its latencies of HELP's "
      f"{len(gj['reference_ids'])} reference architectures) and N measured samples of its train rows (seeds "
      f"{', '.join(map(str, gj['seeds']))}, nested). Test: the benchmark split's test rows without the reference "
      f"architectures ({gj['test_rows']} rows). Means over the {len(gcols)} held-out columns and the seeds "
      "(`examples/generalisation --full`; docs/generalisation.md):\n")
    w("- **fingerprint**: the base whose line in log space fits the fingerprint plus the N samples best "
      "(leave-one-out), mapped by that line (`DevicePredictor::map`);")
    w("- **finetune**: `fine_tune_from` over the same bases, on the N samples plus the fingerprint;")
    w(f"- **adapt** (`adapt_to_device`, what `hwnas adapt` does): fingerprint below N = {gj['fine_tune_from']}; "
      "from there fingerprint or finetune, whichever does better on a seeded 20 % hold-out of the N samples "
      "(the last column counts the cases where it fine-tuned);")
    w("- **spec**, **spec + batch**, **spec + batch + fingerprint** (N = 0): one MLP on the encoding plus the "
      "device features, trained on the same six columns; **spec** is the method's 131-d model (CUDA cores, "
      "memory, bandwidth);")
    w("- **full**: `default_recipe()` on the held-out column's 3500 train rows (and its validation rows).\n")
    w("| N | fingerprint: RMSE % / MAPE / Kendall / Spearman | finetune: RMSE % / Spearman | adapt: RMSE % | adapt / full (mean of ratios) | adapt fine-tuned |")
    w("|---:|---|---|---:|---:|---:|")
    for n in ns:
        fp = [gmean("fingerprint", n, k) for k in ("rmse_pct", "mape", "kendall", "spearman")]
        ft = [gmean("finetune", n, k) for k in ("rmse_pct", "spearman")]
        ad = gmean("adapt", n, "rmse_pct")
        ratio = sum(G[c][n]["adapt"]["over_full"] for c in gcols) / len(gcols)
        ftc = "–" if ft[0] is None else f"{ft[0]:.2f} / {ft[1]:.3f}"
        tuned = sum(G[c][n].get("adapt_fine_tuned_seeds", 0) for c in gcols)
        w(f"| {n} | {fp[0]:.2f} / {fp[1]:.2f} / {fp[2]:.3f} / {fp[3]:.3f} | {ftc} | {ad:.2f} | {ratio:.2f} | "
          f"{tuned} of {len(gcols) * len(gj['seeds'])} |")
    base_names = [("n0_spec", "spec (the method, 131-d)"), ("n0_spec_batch", "spec + batch"),
                  ("n0_both", "spec + batch + fingerprint")]
    for key, label in base_names:
        if all(key in gj["columns"][c] for c in gcols):
            m = {k: sum(gj["columns"][c][key][k] for c in gcols) / len(gcols) for k in ("rmse_pct", "mape", "kendall", "spearman")}
            w(f"| {label}, N = 0 | {m['rmse_pct']:.2f} / {m['mape']:.2f} / {m['kendall']:.3f} / {m['spearman']:.3f} | | | | |")
    w(f"| full (3500 rows) | {fmean['rmse_pct']:.2f} / {fmean['mape']:.2f} / {fmean['kendall']:.3f} / {fmean['spearman']:.3f} | | | | |")
    w("")
    n20 = 20 if 20 in ns else None
    w("Per held-out column (RMSE %; Spearman in brackets):\n")
    head = "| column | full | fingerprint, N = 0 |" + (" adapt, N = 20 | N = 20 / full |" if n20 else "")
    for key, label in base_names:
        head += f" {label}, N = 0 |"
    w(head)
    w("|---|" + "---:|" * (head.count("|") - 2))
    bad20 = []
    for c in gcols:
        row = f"| {c} | {full[c]['rmse_pct']:.2f} ({full[c]['spearman']:.3f}) | " \
              f"{G[c][0]['fingerprint']['rmse_pct']:.2f} ({G[c][0]['fingerprint']['spearman']:.3f}) |"
        if n20:
            r = G[c][20]["adapt"]["over_full"]
            if r > 1.25:
                bad20.append(f"{c} {r:.2f}")
            row += f" {G[c][20]['adapt']['rmse_pct']:.2f} ({G[c][20]['adapt']['spearman']:.3f}) | {r:.2f}{' ❌' if r > 1.25 else ''} |"
        for key, label in base_names:
            v = gj["columns"][c].get(key)
            row += f" {v['rmse_pct']:.2f} ({v['spearman']:.3f}) |" if v else " – |"
        w(row)
    w("")
    w("![generalisation: test RMSE % vs N](plots/generalisation.svg)\n")
    w(f"Run time {gj['seconds'] / 60:.1f} min on one core.\n")
    fp0 = gmean("fingerprint", 0, "rmse_pct")
    sp0 = gmean("fingerprint", 0, "spearman")
    checks.append(("generalisation, fingerprint alone (N = 0): mean RMSE ≤ 12 % over held-out columns", fp0 <= 12,
                   f"{fp0:.2f} %"))
    checks.append(("generalisation, fingerprint alone (N = 0): mean Spearman ≥ 0.93", sp0 >= 0.93,
                   f"{sp0:.3f} (the full-data models: {fmean['spearman']:.3f})"))
    if n20:
        mean20 = sum(G[c][20]["adapt"]["over_full"] for c in gcols) / len(gcols)
        checks.append(("generalisation, N = 20: within 1.25× of the full-data model, every held-out column",
                       not bad20, ("all" if not bad20 else "fails: " + ", ".join(bad20)) +
                       f"; mean ratio {mean20:.2f}"))
    # the plot: mean RMSE % against N, equally spaced
    W, H, L, R, T, B = 640, 340, 60, 230, 40, 50
    series = [("fingerprint", "#1f5fbf"), ("finetune", "#d62728"), ("adapt", "#2ca02c")]
    vals = [gmean(sname, n, "rmse_pct") for sname, _ in series for n in ns]
    hi = max([v for v in vals if v is not None] + [fmean["rmse_pct"]]) * 1.25
    sx = lambda i: L + (i + 0.5) / len(ns) * (W - L - R)
    sy = lambda v: H - B - min(v, hi) / hi * (H - T - B)
    s = svg_start(W, H, "leave one GPU out: mean test RMSE % of the held-out columns")
    step = 2 if hi < 16 else 5
    t = 0
    while t <= hi:
        s.append(f'<line x1="{L}" y1="{sy(t):.1f}" x2="{W - R}" y2="{sy(t):.1f}" stroke="#eee"/>')
        s.append(f'<text x="{L - 6}" y="{sy(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
        t += step
    s.append(f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" stroke="#444"/>')
    for i, n in enumerate(ns):
        s.append(f'<text x="{sx(i):.1f}" y="{H - B + 15}" text-anchor="middle">{n}</text>')
    s.append(f'<line x1="{L}" y1="{sy(fmean["rmse_pct"]):.1f}" x2="{W - R}" y2="{sy(fmean["rmse_pct"]):.1f}" '
             'stroke="#444" stroke-dasharray="5 4"/>')
    legend = [("full (3500 rows)", "#444", True)]
    for sname, color in series:
        pts = [(sx(i), sy(gmean(sname, n, "rmse_pct"))) for i, n in enumerate(ns) if gmean(sname, n, "rmse_pct") is not None]
        s.append('<polyline fill="none" stroke="' + color + '" stroke-width="2" points="' +
                 " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
        for x, y in pts:
            s.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>')
        legend.append((sname, color, False))
    notes = ["conditioned MLPs, N = 0:"]
    for key, label in base_names:
        if all(key in gj["columns"][c] for c in gcols):
            notes.append(f"  {label.split(' (')[0]}: {sum(gj['columns'][c][key]['rmse_pct'] for c in gcols) / len(gcols):.1f} %")
    for k, (label, color, dashed) in enumerate(legend):
        y = T + 14 + 16 * k
        s.append(f'<line x1="{W - R + 10}" y1="{y}" x2="{W - R + 30}" y2="{y}" stroke="{color}" stroke-width="2"'
                 + (' stroke-dasharray="5 4"' if dashed else '') + '/>')
        s.append(f'<text x="{W - R + 36}" y="{y + 4}">{label}</text>')
    for k, note in enumerate(notes):
        s.append(f'<text x="{W - R + 10}" y="{T + 30 + 16 * (len(legend) + k)}" xml:space="preserve">{note}</text>')
    s.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">N measured samples of the new device '
             '(beyond its fingerprint)</text>')
    s.append(f'<text x="16" y="{(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 {(T + H - B) / 2})">'
             'test RMSE %</text>')
    s.append("</svg>")
    with open(f"{root}/docs/plots/generalisation.svg", "w") as f:
        f.write("\n".join(s) + "\n")
cd_path = f"{work}/cpu_devices.json"
if os.path.exists(cd_path):
    cj = load(cd_path)
    big = cj["devices"][1]
    on = cj[f"on_{big}"]
    w("### Beyond GPUs: two configurations of this CPU\n")
    w(f"`examples/cpu_devices`: the built-in executor at batch 1 (`cpu_b1`) and batch {big[5:]} (`{big}`) are two "
      f"devices. A model trained on {cj['networks']['train']} batch-1 networks predicts {cj['networks']['test']} "
      f"test networks at batch {big[5:]} from nothing but `{big}`'s fingerprint ({cj['networks']['reference']} "
      f"reference networks); median test latency {cj['median_ms']['cpu_b1']:.1f} ms at batch 1, "
      f"{cj['median_ms'][big]:.1f} ms at batch {big[5:]}. Line found: log y = {cj['mapping']['intercept']:.3f} + "
      f"{cj['mapping']['slope']:.3f} log y_b1. Everything measured in this run ({cj['measure_s']:.0f} s).\n")
    w("| predicting `" + big + "` with | RMSE % | MAPE % | Kendall | Spearman |")
    w("|---|---:|---:|---:|---:|")
    for key, label in (("fingerprint", "the fingerprint mapping"), ("scaled_by_mean_ratio", "the batch-1 model × the fingerprints' mean ratio"),
                       ("cpu_b1_model_as_is", "the batch-1 model as it is")):
        m = on[key]
        w(f"| {label} | {m['rmse_pct']:.2f} | {m['mape']:.2f} | {m['kendall']:.3f} | {m['spearman']:.3f} |")
    m = cj["cpu_b1_model_on_cpu_b1"]
    w(f"| (the batch-1 model on batch 1) | {m['rmse_pct']:.2f} | {m['mape']:.2f} | {m['kendall']:.3f} | {m['spearman']:.3f} |")
    w("")

# ---- the CPU study (issue 4 §6)
cpu_dir = f"{work}/cpu"
if os.path.exists(f"{cpu_dir}/train-{cpu_n}.json"):
    from scipy.stats import kendalltau, spearmanr
    with open(f"{cpu_dir}/cpu.csv") as f:
        crow = list(csv.DictReader(f))
    cid = np.array([int(r["id"]) for r in crow])
    cy = np.array([float(r["cpu"]) for r in crow])
    ctest = cid >= cpu_n
    def cpu_metrics(p):
        y, q = cy[ctest], np.asarray(p, float)[ctest]
        e = q - y
        return dict(rmse_pct=100 * math.sqrt(float(np.mean(e ** 2))) / float(np.mean(y)),
                    mape=100 * float(np.mean(np.abs(e) / y)), median_ape=100 * float(np.median(np.abs(e) / y)),
                    kendall=float(kendalltau(y, q)[0]), spearman=float(spearmanr(y, q)[0]), bias=100 * float(np.mean(e / y)))
    lut_p = np.asarray(load(f"{cpu_dir}/lut-pred.json")["predictions"], float)
    # The LUT rescaled by one factor fitted on the small dataset's rows: how
    # much of its error is a constant offset.
    small = cid < cpu_small
    scale = float(np.sum(lut_p[small] * cy[small]) / np.sum(lut_p[small] ** 2))
    lut_s = json.load(open(f"{cpu_dir}/lut.json"))
    m_small = json.load(open(f"{cpu_dir}/measure-{cpu_small}.json"))
    m_n = json.load(open(f"{cpu_dir}/measure-{cpu_n}.json"))
    m_all = json.load(open(f"{cpu_dir}/measure-{cpu_n + cpu_test}.json"))
    t_small, t_n = m_small["seconds"], m_small["seconds"] + m_n["seconds"]
    rows_cpu = [
        ("lookup table: sum of the layers measured alone", lut_s["seconds"], lut_p),
        (f"lookup table × {scale:.3f} (one factor fitted on the {cpu_small} measured networks)",
         lut_s["seconds"] + t_small, lut_p * scale),
    ]
    for n in (cpu_small, cpu_n):
        tj = json.load(open(f"{cpu_dir}/train-{n}.json"))
        rows_cpu.append((f"predictor (`default` recipe) trained on {n} networks", (t_small if n == cpu_small else t_n) + tj["train_s"],
                         load(f"{cpu_dir}/pred-{n}.json")["predictions"]))
    w("## Lookup table or predictor? This machine's CPU (issue 4 §6)\n")
    w(f"OFA MobileNetV3 w1.0 at r = 160, 176, 192, 208, 224, timed on one core of this machine with hwnas's built-in "
      f"CPU executor (batch 1, {cpu_warmup} warm-up and {cpu_repeats} timed runs each, Tukey-trimmed median for networks, "
      f"mean for layers as OFA stores it). Commands: `hwnas lut build`, `hwnas measure` (resumed from "
      f"{cpu_small} to {cpu_n} to {cpu_n + cpu_test} networks, so each dataset's cost is its own), `hwnas train "
      f"--split ids:…`. Every estimate is scored against the measured latency of the last {cpu_test} networks "
      f"(ids {cpu_n}–{cpu_n + cpu_test - 1}), which no model saw.\n")
    w("| latency source | cost to build (wall) | RMSE % | MAPE % | median APE % | mean error % | Kendall | Spearman |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, cost, p in rows_cpu:
        mm = cpu_metrics(p)
        w(f"| {name} | {cost / 60:.1f} min | {mm['rmse_pct']:.2f} | {mm['mape']:.2f} | {mm['median_ape']:.2f} | "
          f"{mm['bias']:+.2f} | {mm['kendall']:.3f} | {mm['spearman']:.3f} |")
    w("")
    # Drift: the rows were measured in id order over many minutes; the
    # large predictor's relative error per window of 300 ids shows how the
    # machine's speed moved (a shared VM) independently of the networks.
    p_big = np.asarray(load(f"{cpu_dir}/pred-{cpu_n}.json")["predictions"], float)
    windows = []
    for lo in range(0, cpu_n + cpu_test, 300):
        sel = (cid >= lo) & (cid < lo + 300)
        if sel.any():
            windows.append((lo, float(np.mean((p_big[sel] - cy[sel]) / cy[sel])), float(np.mean((lut_p[sel] - cy[sel]) / cy[sel]))))
    med_cv = 100 * float(np.median([float(r["cpu_std"]) / float(r["cpu"]) for r in crow]))
    w("What this shows:\n")
    w(f"- **The lookup table under-estimates whole networks** by {-cpu_metrics(lut_p)['bias']:.1f} % on the "
      "test rows, and by about the same in every time window (table below): a layer timed alone runs with its "
      "weights and input hot in the caches, inside a network they were evicted by the layers before. It still "
      f"ranks networks well (Spearman {cpu_metrics(lut_p)['spearman']:.3f}): a constant factor is most of its error.")
    w(f"- **The machine drifts.** Each network's own runs vary little (median relative std {med_cv:.1f} % over "
      f"{cpu_repeats} runs), but the measurement took {(t_n + m_all['seconds']) / 60:.0f} minutes on a shared "
      "2-core VM, and the whole machine's speed moved by several percent between windows of it. Mean relative "
      "error of the predictor trained on the most rows, and of the lookup table, per 300 ids in measurement order:\n")
    w("| ids | " + " | ".join(f"{lo}–{lo + 299}" for lo, _, _ in windows) + " |")
    w("|---|" + "---:|" * len(windows))
    w("| predictor | " + " | ".join(f"{100 * b:+.1f} %" for _, b, _ in windows) + " |")
    w("| lookup table | " + " | ".join(f"{100 * b:+.1f} %" for _, _, b in windows) + " |")
    w("")
    w("  Where the machine was steady the predictor is within about 3 % (RMSE) of the measurements; the RMSE "
      "on the test rows is mostly that drift, which no estimator can know. A learned predictor absorbs a "
      "machine's level from its own samples, a lookup table does not: its error is the caching bias plus the drift.\n")
    w(f"Build costs: the lookup table measured {lut_s['measured'] + lut_s['resumed']} layer keys in "
      f"{lut_s['seconds']:.0f} s; {cpu_small} networks took {t_small / 60:.1f} min and {cpu_n} took {t_n / 60:.1f} min "
      f"(the predictors' training adds seconds). The {cpu_test} test networks took {m_all['seconds'] / 60:.1f} min more.\n")
    cpu_study = True
else:
    cpu_study = False

# ---- the search comparison (issue 5 §2)
search_path = f"{work}/search.json"
if os.path.exists(search_path):
    sj = load(search_path)
    budgets_s = sj["budgets"]
    w("## Searching with each latency source (issue 5 §2)\n")
    w(f"OFA's evolutionary search (population 100, {sj['generations']} generations, OFA's mutation and "
      f"crossover) with OFA's trained accuracy predictor as fitness, on the width-1.2 CompOFA spaces at "
      f"r = 160..224 step 16, {sj['seeds']} seeds, all 5 budgets in one run per seed (they share evaluations). "
      "Latency sources: `lut` = OFA's Note10 tables (the ground truth here); `mlp` = hwnas's `default` "
      "predictor trained on 1000 LUT-labelled random architectures (850 train, 150 validation); `+memo` = "
      "memoisation; `+margin` = a safety margin (`hwnas::latency_margin`), the predictor's worst relative "
      "under-estimate on its validation rows. Every winner's latency is re-scored with the LUT. "
      "`examples/search_comparison --full`.\n")
    ok_lut_opt, ok_mlp_lat, ok_mlp_acc = True, True, True
    for sp in sj["spaces"]:
        opt = sp["optimum"]
        fixed = opt[0] is not None
        w(f"### {sp['space']}\n")
        w(f"The predictor's test RMSE against the LUT on 1000 other random architectures: "
          f"{sp['mlp_test_rmse_pct']:.3f} % (Spearman {sp['mlp_test_spearman']:.4f}); margin {100 * sp['margin']:.2f} %.\n")
        head = "| latency source | budget (ms) | mean top-1 (%) | worst true latency / budget | seeds over budget |"
        head += " exact optimum found | mean evaluations | cache hit rate | mean search (s) |" if fixed else \
                " mean evaluations | cache hit rate | mean search (s) |"
        w(head)
        w("|---" * (head.count("|") - 1) + "|")
        for mode in sp["modes"]:
            runs = mode["runs"]
            evals = statistics.mean(r["latency_evaluations"] for r in runs)
            hits = statistics.mean(r["latency_cache_hits"] / max(1, r["latency_cache_hits"] + r["latency_evaluations"]) for r in runs)
            secs = statistics.mean(r["search_s"] for r in runs)
            for bi, b in enumerate(budgets_s):
                wins = [r["budgets"][bi] for r in runs]
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
                w("| " + " | ".join(cells) + " |")
        w("")
    cost = sj.get("estimate_cost_us")
    if cost:
        w("### The cost of one latency estimate (the method's Table 5)\n")
        w("| source | time per architecture |")
        w("|---|---:|")
        w(f"| lookup table (`LutEstimator::predict`, one architecture) | {cost['lut']:.2f} µs |")
        w(f"| predictor (`LatencyPredictor::predict`, one architecture) | {cost['mlp']:.2f} µs |")
        w(f"| live measurement on this CPU (built-in executor, 2 warm-up + 5 timed runs) | {cost['measure_cpu'] / 1000:.1f} ms |")
        w("")
    checks.append(("search with the LUT: exact optimum in ≥ 9 of 10 seeds, every budget (fixed-kernel)", ok_lut_opt, ""))
    checks.append(("search with the predictor: winners' true latency ≤ 1.02 × budget", ok_mlp_lat,
                   "with the safety margin (`mlp+memo+margin`); without it the search exploits the "
                   "predictor's under-estimates"))
    checks.append(("search with the predictor: accuracy within 0.2 points of the optimum (fixed-kernel)", ok_mlp_acc, ""))

# ---- machine
m = dict(l.rstrip("\n").split("=", 1) for l in open(f"{work}/machine.txt") if "=" in l)
loads = [l.rstrip("\n") for l in open(f"{work}/speed/machine_load.txt")]
w("## Machine\n")
w(f"- CPU: {m.get('cpu')} ({m.get('cores')} cores, {m.get('threads_per_core')} thread per core"
  f"{', ' + m['hypervisor'] + ' guest' if m.get('hypervisor') else ''}), {m.get('mem')} memory; {m.get('os')}, {m.get('kernel')}.")
w(f"- Benchmarks: {ctx.get('hwnas_bench_flags', '?')} (the bench targets only; `hwnas::hwnas` carries no "
  f"flags); Google Benchmark {ctx.get('library_build_type', '')} library build, {ctx.get('num_cpus')} CPUs at "
  f"{ctx.get('mhz_per_cpu')} MHz as it reports (Debian's libbenchmark says `debug` about its own build; "
  "the timed code is hwnas's, compiled as above).")
w(f"- The `hwnas` program used for the accuracy runs: Release flags `{m.get('cli_flags')}` (no `-march`).")
w(f"- Peers: Python {m.get('python')}; {m.get('blas')}; `OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1`, "
  "`--threads 1`.")
w(f"- Commit: `{m.get('git')}`; {m.get('cmake')}.")
w("- Shared machine: load averages and other busy processes during the speed phase:")
for l in loads:
    w(f"  - `{l}`")
w("")

# ---- plots
def svg_plot(col, path):
    yd, pd = preds["hwnas-default", col]
    yp, pp = preds["torch-paper", col]
    lo = float(min(yd.min(), pd.min(), pp.min())) * 0.95
    hi = float(max(yd.max(), pd.max(), pp.max())) * 1.05
    W, H, L, R, T, B = 460, 460, 60, 20, 40, 50
    sx = lambda v: L + (v - lo) / (hi - lo) * (W - L - R)
    sy = lambda v: H - B - (v - lo) / (hi - lo) * (H - T - B)
    s = svg_start(W, H, f"{col}: predicted vs measured (test rows)")
    step = 10 ** math.floor(math.log10((hi - lo) / 4))
    for mult in (1, 2, 5, 10):
        if (hi - lo) / (step * mult) <= 6:
            step *= mult
            break
    t = math.ceil(lo / step) * step
    while t <= hi:
        s.append(f'<line x1="{sx(t):.1f}" y1="{T}" x2="{sx(t):.1f}" y2="{H - B}" stroke="#eee"/>')
        s.append(f'<line x1="{L}" y1="{sy(t):.1f}" x2="{W - R}" y2="{sy(t):.1f}" stroke="#eee"/>')
        s.append(f'<text x="{sx(t):.1f}" y="{H - B + 15}" text-anchor="middle">{t:g}</text>')
        s.append(f'<text x="{L - 6}" y="{sy(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
        t += step
    s.append(f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" stroke="#444"/>')
    for f, dash in ((1.0, ""), (1.1, ' stroke-dasharray="4 3"'), (0.9, ' stroke-dasharray="4 3"')):
        x0, x1 = max(lo, lo / f), min(hi, hi / f)  # y = f x inside the box
        s.append(f'<line x1="{sx(x0):.1f}" y1="{sy(f * x0):.1f}" x2="{sx(x1):.1f}" y2="{sy(f * x1):.1f}" '
                 f'stroke="#888"{dash}/>')
    for a, b in zip(yp, pp):
        s.append(f'<circle cx="{sx(a):.1f}" cy="{sy(b):.1f}" r="1.8" fill="#bbb" fill-opacity="0.7"/>')
    miss = outliers[col]
    for a, b, o in zip(yd, pd, miss):
        s.append(f'<circle cx="{sx(a):.1f}" cy="{sy(b):.1f}" r="2" fill="#1f5fbf" fill-opacity="0.65"/>')
        if o:
            s.append(f'<circle cx="{sx(a):.1f}" cy="{sy(b):.1f}" r="5" fill="none" stroke="#d62728"/>')
    s.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">measured latency (ms)</text>')
    s.append(f'<text x="16" y="{(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 {(T + H - B) / 2})">'
             'predicted latency (ms)</text>')
    d, q = acc["hwnas-default", col], acc["torch-paper", col]
    s.append(f'<circle cx="{L + 12}" cy="{T + 14}" r="3" fill="#1f5fbf"/><text x="{L + 20}" y="{T + 18}">'
             f'hwnas default: RMSE {d["rmse_pct"]:.2f} %, median APE {d["median_ape"]:.2f} %</text>')
    s.append(f'<circle cx="{L + 12}" cy="{T + 30}" r="3" fill="#bbb"/><text x="{L + 20}" y="{T + 34}">'
             f'PyTorch paper: RMSE {q["rmse_pct"]:.2f} %, median APE {q["median_ape"]:.2f} %</text>')
    s.append(f'<circle cx="{L + 12}" cy="{T + 46}" r="5" fill="none" stroke="#d62728"/><text x="{L + 20}" '
             f'y="{T + 50}">outlier (every model family &gt; {OUTLIER_PCT} % off); dashed: ±10 %</text>')
    s.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(s) + "\n")

w("## Predicted vs measured\n")
w("Test rows; blue: hwnas `default`, grey: the PyTorch peer (`paper`), red rings: the outliers above; "
  "the solid line is y = x, the dashed ones ±10 %.\n")
for c in columns:
    svg_plot(c, f"{root}/docs/plots/{c}.svg")
    w(f"![{c}: predicted vs measured](plots/{c}.svg)")
w("")

def svg_pareto(sp, budgets, path):
    """Accuracy vs true (LUT) latency: the exact front (fixed-kernel), and
    seed 0's Pareto front searching with the LUT and with the predictor."""
    series = []
    if sp.get("exact_front"):
        series.append(("exact front (every network)", sp["exact_front"], "#999", "line"))
    colours = {"lut": "#1f5fbf", "mlp+memo+margin": "#e07b00"}
    for mode in sp["modes"]:
        if mode["mode"] in colours and mode["runs"] and mode["runs"][0].get("pareto"):
            label = "search front, " + mode["mode"] + (" (at LUT latency)" if mode["mode"] != "lut" else "")
            series.append((label, mode["runs"][0]["pareto"], colours[mode["mode"]],
                           "rings" if mode["mode"] == "lut" else "dots"))
    pts = [p for _, ps, _, _ in series for p in ps]
    if not pts:
        return False
    xlo, xhi = 10.0, 5.0 * math.ceil(max(budgets) / 5.0 + 1)
    inside = [p[1] * 100 for p in pts if xlo <= p[0] <= xhi]
    ylo, yhi = min(inside) - 0.3, max(inside) + 0.3
    W, H, L, R, T, B = 560, 400, 60, 20, 40, 50
    sx = lambda v: L + (v - xlo) / (xhi - xlo) * (W - L - R)
    sy = lambda v: H - B - (v - ylo) / (yhi - ylo) * (H - T - B)
    s = svg_start(W, H, f'{sp["space"]} (w1.2): predicted top-1 vs Note10 LUT latency')
    for t in range(int(math.ceil(xlo / 5) * 5), int(xhi) + 1, 5):
        s.append(f'<line x1="{sx(t):.1f}" y1="{T}" x2="{sx(t):.1f}" y2="{H - B}" stroke="#eee"/>')
        s.append(f'<text x="{sx(t):.1f}" y="{H - B + 15}" text-anchor="middle">{t}</text>')
    step = 0.5 if yhi - ylo < 4 else 1.0
    t = math.ceil(ylo / step) * step
    while t <= yhi:
        s.append(f'<line x1="{L}" y1="{sy(t):.1f}" x2="{W - R}" y2="{sy(t):.1f}" stroke="#eee"/>')
        s.append(f'<text x="{L - 6}" y="{sy(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
        t += step
    for b in budgets:
        s.append(f'<line x1="{sx(b):.1f}" y1="{T}" x2="{sx(b):.1f}" y2="{H - B}" stroke="#d62728" '
                 'stroke-dasharray="3 3"/>')
    s.append(f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" stroke="#444"/>')
    for label, ps, colour, kind in series:
        ps = sorted((p for p in ps if xlo <= p[0] <= xhi), key=lambda p: p[0])
        if kind == "line":
            d = " ".join(f"{sx(x):.1f},{sy(100 * y):.1f}" for x, y in ps)
            s.append(f'<polyline points="{d}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        elif kind == "rings":
            for x, y in ps:
                s.append(f'<circle cx="{sx(x):.1f}" cy="{sy(100 * y):.1f}" r="3.5" fill="none" stroke="{colour}"/>')
        else:
            for x, y in ps:
                s.append(f'<circle cx="{sx(x):.1f}" cy="{sy(100 * y):.1f}" r="1.8" fill="{colour}"/>')
    for i, (label, _, colour, kind) in enumerate(series):  # the legend, top left (nothing is fast and accurate)
        y = T + 18 + 16 * i
        mark = (f'fill="none" stroke="{colour}"' if kind == "rings" else f'fill="{colour}"')
        s.append(f'<circle cx="{L + 12}" cy="{y - 4}" r="3" {mark}/><text x="{L + 20}" y="{y}">{label}</text>')
    s.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">latency on the Note10 LUT (ms); '
             'dashed: the budgets</text>')
    s.append(f'<text x="16" y="{(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 {(T + H - B) / 2})">'
             'predicted top-1 (%)</text>')
    s.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(s) + "\n")
    return True

if os.path.exists(search_path):
    made = [sp["space"] for sp in sj["spaces"] if svg_pareto(sp, sj["budgets"], f"{root}/docs/plots/pareto-{sp['space']}.svg")]
    if made:
        w("## Pareto fronts of the search\n")
        w("Seed 0 of the comparison above: every network the search scored that no other beats on both "
          "accuracy and latency (`EvolutionResult::pareto`; `hwnas search --pareto FILE` writes it as CSV), "
          "searching with the LUT and with the predictor plus its safety margin (placed at its LUT latency), "
          "and for the enumerable fixed-kernel space the exact front of all its networks.\n")
        for name in made:
            w(f"![{name}: Pareto front](plots/pareto-{name}.svg)")
        w("")

# ---- summary, inserted at the top
summ = ["## Targets\n", "| target | met | measured |", "|---|:---:|---|"]
for name, met, detail in checks:
    summ.append(f"| {name} | {'✅ yes' if met else ('–' if met is None else '❌ no')} | {detail} |")
summ.append("")
if set(columns) != set(ALL):
    summ.append(f"**Partial run**: only the columns {', '.join(columns)} (COLUMNS was set).\n")
out[summary_at:summary_at] = summ
with open(f"{root}/docs/results.md", "w") as f:
    f.write("\n".join(out).rstrip() + "\n")
for name, met, detail in checks:
    print(f"  {'PASS' if met else ('skip' if met is None else 'FAIL')}  {name}: {detail}", file=sys.stderr)
PYEOF
say "done in $(( ($(date +%s) - START) / 60 )) min $(( ($(date +%s) - START) % 60 )) s: docs/results.md, docs/plots/"
