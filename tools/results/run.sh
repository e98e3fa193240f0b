#!/usr/bin/env bash
# Regenerates docs/results.md and docs/plots/*.svg from scratch on this
# machine: hwnas against the peers of ../shared/peers on HELP's 9 GPU columns
# (../shared/data/help-ofa/ofa_gpu_latency.csv, benchmark split).
#
#   tools/results/run.sh        # from anywhere in the checkout; about 45 min on 2 cores
#
# What it does, in order:
#   1. configures and builds a Release build with benchmarks in build-bench/
#      (the hwnas program, bench/predictor, bench/tune, bench/search,
#      bench/adapt and the study programs of experiments/);
#   2. accuracy: for each device column, `hwnas train --recipe paper|default
#      --json` (whatever `default` is at run time), torch_mlp.py with both
#      encodings, sklearn_baselines.py (Ridge and gradient boosting, both
#      encodings), then `hwnas predict` on every row for the plots. These
#      runs do not time anything, so JOBS of them run at once;
#   3. speed: PAIRS alternating pairs of bench/predictor with `hwnas train
#      --recipe paper`, and `torch_mlp.py --threads 1 --time-inference` (one process at a time;
#      medians and ratios of medians), PAIRS pairs of bench/search and
#      py_evolution.py (one 500-generation search, LUT and MLP latency), then
#      bench/python/speed.py once (the Python module against the peers in
#      one process), bench/tune once (36-configuration ASHA, 2 threads) and
#      bench/adapt once (few-shot adaptation on FBNet);
#   4. this machine's CPU with the built-in executor (one process at a
#      time): a lookup table of OFA MobileNetV3 w1.0 at r = 160..224 step 16,
#      then CPU_N + CPU_TEST sub-networks (`hwnas lut build`, `hwnas
#      measure`, timed as they go), predictors trained on the first CPU_SMALL
#      and CPU_N rows, all scored against the last CPU_TEST rows;
#   5. experiments/finetune_curve --full (fine-tuning to a new device from N
#      samples), experiments/search_comparison --full (OFA's search with the
#      LUT, an MLP, memoisation, a margin), experiments/generalisation --full
#      (leave one GPU out, new devices from a fingerprint and N samples),
#      experiments/fbnet_devices --full (the FBNet space on HELP's 13
#      devices: per-device models, leave one device out), fbnet_peers.sh
#      (the same columns: hwnas against the peers on the one-hot) and
#      experiments/cpu_devices (one process at a time: it times networks);
#   6. report.py writes docs/results.md (tables, targets met or not, machine)
#      and plots.py the figures it links in docs/plots/ (matplotlib).
# Raw outputs (JSON, logs, models) stay in build-bench/results/; run.json
# there records this run's settings, so REPORT_ONLY=1 reports them as run.
#
# Environment (optional):
#   JOBS=2          accuracy runs at once
#   PAIRS=3         hwnas/peer timing pairs
#   COLUMNS="..."   device columns (default: every device column of the CSV); for a quick check
#   SKIP_TUNE=1     leave out the tuning benchmark (the doc says so)
#   SKIP_CPU=1      leave out the CPU lookup-table-vs-predictor study (step 4)
#   SKIP_PYTHON=1   no Python module (its build needs tools/install-deps.sh --python) nor its benchmark
#   SKIP_FINETUNE=1, SKIP_SEARCH=1   leave out the studies of step 5 (SKIP_SEARCH also the search speed pairs)
#   SKIP_GENERALISATION=1   leave out experiments/generalisation and cpu_devices
#   FINETUNE_JSON=FILE   use this output of experiments/finetune_curve instead of running it
#   GENERALISATION_JSON=FILE   the same for experiments/generalisation --full
#   SKIP_FBNET=1   leave out experiments/fbnet_devices and fbnet_peers.sh; FBNET_JSON=FILE   use this output of
#                  fbnet_devices instead
#   REPORT_ONLY=1   rewrite docs/results.md and docs/plots/ from the raw outputs of the
#                   last run (build-bench/results/) without measuring anything
#   CPU_N=4000 CPU_SMALL=700 CPU_TEST=200 CPU_WARMUP=2 CPU_REPEATS=8
#                   its sizes and timing protocol
#   CLEAN=1         delete build-bench/ first (a pristine build)
#   BUILD_DIR, HWNAS_DATA_DIR, HWNAS_PEERS_DIR, PYTHON (/usr/bin/python3)
#
# Needs: cmake, a C++20 compiler, Eigen 3.4, nlohmann_json, CLI11, Google
# Benchmark (libbenchmark-dev), and from Debian the peers' Python packages
# (python3-torch python3-sklearn python3-scipy libopenblas0-pthread) and
# python3-matplotlib. Missing Python packages are installed with
# `tools/install-deps.sh --results` (as root or through sudo).
set -euo pipefail

START=$(date +%s)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-bench}
DATA_DIR=${HWNAS_DATA_DIR:-$ROOT/../shared/data}
PEERS=${HWNAS_PEERS_DIR:-$ROOT/../shared/peers}
PY=${PYTHON:-/usr/bin/python3}
JOBS=${JOBS:-2}
PAIRS=${PAIRS:-3}
SPEED_COLUMN=v100_64
CPU_N=${CPU_N:-4000}
CPU_SMALL=${CPU_SMALL:-700}
CPU_TEST=${CPU_TEST:-200}
CPU_WARMUP=${CPU_WARMUP:-2}
CPU_REPEATS=${CPU_REPEATS:-8}
CSV=$DATA_DIR/help-ofa/ofa_gpu_latency.csv
WORK=$BUILD/results
EXPERIMENTS=$BUILD/experiments

say() { printf '[results %4ds] %s\n' $(($(date +%s) - START)) "$*" >&2; }
die() { printf 'run.sh: error: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------ checks ---
[[ -f $CSV ]] || die "$CSV not found (set HWNAS_DATA_DIR to the folder holding help-ofa/)"
for f in torch_mlp.py sklearn_baselines.py common.py; do
  [[ -f $PEERS/$f ]] || die "$PEERS/$f not found (set HWNAS_PEERS_DIR)"
done
[[ -x $PY ]] || command -v "$PY" >/dev/null || die "no Python at $PY (set PYTHON)"
python_ready() { "$PY" -c 'import numpy, scipy, sklearn, torch, matplotlib' 2>/dev/null; }
if ! python_ready; then
  say "$PY cannot import numpy, scipy, sklearn, torch and matplotlib: tools/install-deps.sh --results"
  "$ROOT/tools/install-deps.sh" --results >&2 || die "tools/install-deps.sh --results failed"
  python_ready || die "$PY still cannot import numpy, scipy, sklearn, torch and matplotlib (Debian's packages serve /usr/bin/python3; set PYTHON)"
fi
command -v cmake >/dev/null || die "cmake not found"
[[ $PAIRS =~ ^[1-9][0-9]*$ ]] || die "PAIRS must be a positive integer, found '$PAIRS'"
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "JOBS must be a positive integer, found '$JOBS'"
ALL_COLUMNS=$("$PY" "$HERE/results_data.py" columns "$CSV") || die "cannot read the device columns of $CSV"
COLUMNS=${COLUMNS:-$ALL_COLUMNS}
for col in $COLUMNS; do
  [[ " $ALL_COLUMNS " == *" $col "* ]] || die "COLUMNS: no column '$col' in $CSV (it has: $ALL_COLUMNS)"
done
if [[ " $COLUMNS " != *" $SPEED_COLUMN "* ]]; then
  COLUMNS="$COLUMNS $SPEED_COLUMN" # the prediction benchmarks load its models
fi
NCPU=$(nproc --all) # before the exports below: GNU nproc honours OMP_NUM_THREADS
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
PYTHON_TARGETS=()
if [[ ${SKIP_PYTHON:-0} == 1 ]]; then
  PYTHON_CONFIG=(-DHWNAS_PYTHON=OFF)
else
  PYTHON_CONFIG=(-DHWNAS_PYTHON=ON "-DPython3_EXECUTABLE=$PY")
  PYTHON_TARGETS=(hwnas_python)
fi
cmake -S "$ROOT" -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DHWNAS_BUILD_BENCHMARKS=ON \
  -DHWNAS_BUILD_TESTS=OFF -DHWNAS_BUILD_EXAMPLES=OFF -DHWNAS_BUILD_EXPERIMENTS=ON -DHWNAS_INSTALL=OFF \
  "${PYTHON_CONFIG[@]}" >"$BUILD/results-configure.log" 2>&1 ||
  { cat "$BUILD/results-configure.log" >&2; die "cmake configure failed (log above; the Python module needs tools/install-deps.sh --python, or SKIP_PYTHON=1)"; }
say "building hwnas, bench/predictor, bench/tune, bench/search, bench/adapt and the experiments"
cmake --build "$BUILD" --parallel "$NCPU" --target hwnas_cli hwnas_bench_predictor hwnas_bench_tune hwnas_bench_search \
  hwnas_bench_adapt \
  hwnas_experiment_finetune_curve hwnas_experiment_search_comparison hwnas_experiment_generalisation \
  hwnas_experiment_cpu_devices hwnas_experiment_fbnet_devices "${PYTHON_TARGETS[@]}" \
  >"$BUILD/results-build.log" 2>&1 || { tail -n 40 "$BUILD/results-build.log" >&2; die "build failed (log: $BUILD/results-build.log)"; }
HWNAS=$BUILD/tools/hwnas
for exe in "$HWNAS" "$BUILD/bench/predictor" "$BUILD/bench/tune" "$BUILD/bench/search" "$BUILD/bench/adapt"; do
  [[ -x $exe ]] || die "$exe was not built"
done

if [[ ${REPORT_ONLY:-0} == 1 ]]; then
  [[ -d $WORK/acc ]] || die "REPORT_ONLY=1: no previous run in $WORK"
  say "REPORT_ONLY=1: reusing the raw outputs in $WORK"
else
rm -rf "$WORK"
mkdir -p "$WORK"/{acc,logs,models,pred,speed,jobs}

# ---------------------------------------------------------------- accuracy ---
job() { # job NAME COMMAND...: stdout -> acc/NAME.json, stderr -> logs/NAME.log
  local name=$1
  shift
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
    job "torch-$enc-$col" "$PY" "$HERE/peer_run.py" "$PEERS" "$WORK/pred/torch-$enc-$col.json" torch_mlp.py \
      --data "$CSV" --target "$col" --encoding "$enc" --threads 1
    job "hgb-$enc-$col" "$PY" "$HERE/peer_run.py" "$PEERS" "$WORK/pred/hgb-$enc-$col.json" sklearn_baselines.py \
      --data "$CSV" --target "$col" --encoding "$enc" --model hgb
    job "ridge-$enc-$col" "$PY" "$HERE/peer_run.py" "$PEERS" "$WORK/pred/ridge-$enc-$col.json" sklearn_baselines.py \
      --data "$CSV" --target "$col" --encoding "$enc" --model ridge
    n=$((n + 3))
  done
done
say "accuracy: $n runs, $JOBS at a time (hwnas paper/default, PyTorch paper/res25, Ridge, gradient boosting)"
# hwnas first (the speed phase needs the $SPEED_COLUMN models), then the
# slow peers, so the runs pack well.
(cd "$WORK/jobs" && printf '%s\n' hwnas-*.sh torch-*.sh hgb-*.sh ridge-*.sh) | sed 's/\.sh$//' |
  xargs -P "$JOBS" -I{} bash "$HERE/run_job.sh" "$WORK" {} >&2
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
others() { # CPU-busy processes that are not ours (nor this ps), at this moment
  ps -eo pid=,pcpu=,comm= --sort=-pcpu |
    awk -v me=$$ '$2 >= 20 && $1 != me && $3 != "ps" && $3 != "awk" {printf "%s%s (%s %% CPU over its life)", sep, $3, $2; sep=", "; n++} END {if (!n) printf "none"}'
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
  # What a user runs: the program of the README's build, its train_s.
  "$HWNAS" train --data "$CSV" --target "$SPEED_COLUMN" --recipe paper --json -o "$WORK/models/speed-paper.hwnas" \
    >"$WORK/speed/program-$i.json" 2>"$WORK/logs/program-train-$i.log" ||
    die "hwnas train failed (log: $WORK/logs/program-train-$i.log)"
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
if [[ ${SKIP_PYTHON:-0} == 1 ]]; then
  say "SKIP_PYTHON=1: no benchmark of the Python module"
else
  say "speed: bench/python/speed.py (hwnas from Python against the peers in one process; about two minutes)"
  PYTHONPATH=$BUILD/python "$PY" "$ROOT/bench/python/speed.py" --out "$WORK/speed/python.json" \
    >"$WORK/logs/bench-python.log" 2>&1 || die "bench/python/speed.py failed (log: $WORK/logs/bench-python.log)"
  echo "after_python $(loadavg) | $(others)" >>"$WORK/speed/machine_load.txt"
fi
if [[ ${SKIP_TUNE:-0} == 1 ]]; then
  say "SKIP_TUNE=1: no tuning benchmark"
else
  say "speed: bench/tune (36-configuration ASHA, 2 threads; about a minute)"
  "$BUILD/bench/tune" --benchmark_format=json >"$WORK/speed/tune.json" 2>"$WORK/logs/bench-tune.log" ||
    die "bench/tune failed (log: $WORK/logs/bench-tune.log)"
  echo "after_tune $(loadavg) | $(others)" >>"$WORK/speed/machine_load.txt"
fi
say "speed: bench/adapt (FBNet, titanx_32 from 10 bases; about 20 s)"
"$BUILD/bench/adapt" --benchmark_format=json >"$WORK/speed/adapt.json" 2>"$WORK/logs/bench-adapt.log" ||
  die "bench/adapt failed (log: $WORK/logs/bench-adapt.log)"
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
  # shellcheck disable=SC2054 # the commas belong to one value
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
# Each study writes its JSON with --out (atomically): a failed run leaves no
# half-written file for the report to read.
if [[ -n ${FINETUNE_JSON:-} ]]; then
  say "fine-tuning curve: $FINETUNE_JSON (FINETUNE_JSON)"
  cp "$FINETUNE_JSON" "$WORK/finetune.json"
elif [[ ${SKIP_FINETUNE:-0} == 1 ]]; then
  say "SKIP_FINETUNE=1: no fine-tuning curve"
else
  say "fine-tuning curve: experiments/finetune_curve (all columns, N = 50..700, 3 seeds; ~15 min)"
  "$EXPERIMENTS/finetune_curve" "$CSV" --full --out "$WORK/finetune.json" 2>"$WORK/logs/finetune.log" ||
    die "experiments/finetune_curve failed (log: $WORK/logs/finetune.log)"
fi
if [[ ${SKIP_SEARCH:-0} == 1 ]]; then
  say "SKIP_SEARCH=1: no search comparison"
else
  say "search comparison: experiments/search_comparison --full (2 spaces, 4 latency sources, 10 seeds; ~6 min)"
  "$EXPERIMENTS/search_comparison" "$DATA_DIR" --full --out "$WORK/search.json" 2>"$WORK/logs/search.log" ||
    die "experiments/search_comparison failed (log: $WORK/logs/search.log)"
fi

if [[ -n ${GENERALISATION_JSON:-} ]]; then
  say "generalisation: $GENERALISATION_JSON (GENERALISATION_JSON)"
  cp "$GENERALISATION_JSON" "$WORK/generalisation.json"
elif [[ ${SKIP_GENERALISATION:-0} == 1 ]]; then
  say "SKIP_GENERALISATION=1: no generalisation study"
else
  say "generalisation: experiments/generalisation --full (3 GPUs held out, N = 0..700, 3 seeds; ~15 min)"
  "$EXPERIMENTS/generalisation" "$CSV" --full --out "$WORK/generalisation.json" 2>"$WORK/logs/generalisation.log" ||
    die "experiments/generalisation failed (log: $WORK/logs/generalisation.log)"
fi
if [[ -n ${FBNET_JSON:-} ]]; then
  say "FBNet devices: $FBNET_JSON (FBNET_JSON)"
  cp "$FBNET_JSON" "$WORK/fbnet_devices.json"
elif [[ ${SKIP_FBNET:-0} == 1 ]]; then
  say "SKIP_FBNET=1: no FBNet study"
else
  say "FBNet devices: experiments/fbnet_devices --full (13 devices, leave one out, N = 0..50, 3 seeds; ~6 min)"
  "$EXPERIMENTS/fbnet_devices" "$DATA_DIR/help-fbnet/fbnet_latency.csv" --full --out "$WORK/fbnet_devices.json" \
    2>"$WORK/logs/fbnet_devices.log" || die "experiments/fbnet_devices failed (log: $WORK/logs/fbnet_devices.log)"
fi
if [[ ${SKIP_FBNET:-0} != 1 ]]; then
  say "FBNet peers: fbnet_peers.sh (13 columns: hwnas default, PyTorch MLP, Ridge, gradient boosting; ~7 min)"
  "$HERE/fbnet_peers.sh" "$BUILD" "$WORK/fbnet_peers.jsonl" 2>"$WORK/logs/fbnet_peers.log" ||
    die "fbnet_peers.sh failed (log: $WORK/logs/fbnet_peers.log)"
fi
if [[ ${SKIP_GENERALISATION:-0} != 1 ]]; then
  say "CPU devices: experiments/cpu_devices (batch 1 and 4 on this CPU; ~1 min)"
  "$EXPERIMENTS/cpu_devices" -o "$WORK/cpu_devices" --out "$WORK/cpu_devices.json" 2>"$WORK/logs/cpu_devices.log" ||
    die "experiments/cpu_devices failed (log: $WORK/logs/cpu_devices.log)"
fi

# ------------------------------------------------------------------ machine ---
{
  echo "cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)"
  echo "cores=$NCPU"
  echo "threads_per_core=$(lscpu | sed -n 's/^Thread(s) per core:[[:space:]]*//p' | head -n1)"
  echo "hypervisor=$(lscpu | sed -n 's/^Hypervisor vendor:[[:space:]]*//p' | head -n1)"
  echo "mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel=$(uname -sr)"
  # shellcheck source=/dev/null # the machine's file, read for PRETTY_NAME
  echo "os=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-?}")"
  echo "cli_flags=$(sed -n 's/^CMAKE_CXX_FLAGS_RELEASE:STRING=//p' "$BUILD/CMakeCache.txt")"
  echo "cmake=$(cmake --version | head -n1)"
  echo "git=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')"
  echo "python=$("$PY" -c 'import sys, numpy, sklearn, torch; print(sys.version.split()[0], "numpy", numpy.__version__, "scikit-learn", sklearn.__version__, "torch", torch.__version__)')"
  echo "blas=$(ls -d /usr/lib/*/openblas-pthread >/dev/null 2>&1 && echo 'OpenBLAS (libopenblas0-pthread)' || echo 'no OpenBLAS found: PyTorch uses a reference BLAS')"
} >"$WORK/machine.txt"
fi # REPORT_ONLY
if [[ ${REPORT_ONLY:-0} == 1 && -n ${FINETUNE_JSON:-} ]]; then
  cp "$FINETUNE_JSON" "$WORK/finetune.json"
fi
if [[ ${REPORT_ONLY:-0} == 1 && -n ${GENERALISATION_JSON:-} ]]; then
  cp "$GENERALISATION_JSON" "$WORK/generalisation.json"
fi
if [[ ${REPORT_ONLY:-0} == 1 && -n ${FBNET_JSON:-} ]]; then
  cp "$FBNET_JSON" "$WORK/fbnet_devices.json"
fi

# ------------------------------------------------------------- run settings ---
# What report.py needs to know about the run. A measuring run records its
# own; REPORT_ONLY keeps the recorded ones (the raw outputs are theirs) and
# writes them from the environment only for raw outputs that lack them.
if [[ ${REPORT_ONLY:-0} != 1 || ! -f $WORK/run.json ]]; then
  if [[ ${REPORT_ONLY:-0} == 1 ]]; then
    elapsed=$(cat "$WORK/elapsed.txt" 2>/dev/null || echo 0)
  else
    elapsed=$(($(date +%s) - START))
  fi
  printf '{"columns": "%s", "pairs": %s, "speed_column": "%s", "elapsed_s": %s, "cpu_n": %s, "cpu_small": %s, "cpu_test": %s, "cpu_warmup": %s, "cpu_repeats": %s}\n' \
    "$COLUMNS" "$PAIRS" "$SPEED_COLUMN" "$elapsed" "$CPU_N" "$CPU_SMALL" "$CPU_TEST" "$CPU_WARMUP" "$CPU_REPEATS" \
    >"$WORK/run.json"
fi

# ------------------------------------------------------------------- report ---
say "writing docs/results.md and docs/plots/"
mkdir -p "$ROOT/docs/plots"
rm -f "$ROOT"/docs/plots/*.svg
"$PY" "$HERE/report.py" --work "$WORK" --csv "$CSV" --out "$ROOT/docs/results.md" ||
  die "report.py failed"
"$PY" "$HERE/plots.py" --work "$WORK" --csv "$CSV" --out-dir "$ROOT/docs/plots" || die "plots.py failed"
say "done in $((($(date +%s) - START) / 60)) min $((($(date +%s) - START) % 60)) s: docs/results.md, docs/plots/"
