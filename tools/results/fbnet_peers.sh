#!/usr/bin/env bash
# hwnas's `default` recipe against the peers of ../shared/peers on HELP's 13
# FBNet columns, side by side in one run: per column, on the benchmark split
# (id % 20: test 0-2, validation 3-5), `hwnas train --space fbnet`, the
# PyTorch MLP of torch_mlp.py, Ridge and gradient boosting of
# sklearn_baselines.py, the peers on the space's one-hot encoding
# (peer_run.py --decisions 22). Writes one JSON line per run to OUT (what
# each prints; hwnas's reduced to its test metrics), which run.sh's report
# renders (docs/results.md, FBNet section).
#
#   tools/results/fbnet_peers.sh BUILD_DIR OUT
#
# Needs the peers' Python packages (tools/install-deps.sh --results) and
# ../shared/data (or HWNAS_DATA_DIR). Takes about 7 minutes on one core.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${1:?usage: fbnet_peers.sh BUILD_DIR OUT}
OUT=${2:?usage: fbnet_peers.sh BUILD_DIR OUT}
DATA=${HWNAS_DATA_DIR:-$ROOT/../shared/data}
PEERS=${HWNAS_PEERS_DIR:-$ROOT/../shared/peers}
PY=${PYTHON:-/usr/bin/python3}
CSV=$DATA/help-fbnet/fbnet_latency.csv
[ -f "$CSV" ] || { echo "fbnet_peers.sh: $CSV not found (set HWNAS_DATA_DIR)" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
: > "$OUT"
for col in $(head -1 "$CSV" | tr -d '\r' | tr ',' '\n' | tail -n +24); do
  echo "fbnet_peers: $col" >&2
  "$BUILD/tools/hwnas" train --space fbnet --data "$CSV" --target "$col" -o "$TMP/m.hwnas" --json |
    "$PY" -c 'import json, sys; t = json.load(sys.stdin)["test"]
print(json.dumps({"peer": "hwnas-default", "target": sys.argv[1], **{"test_" + k: v for k, v in t.items()}}))' \
      "$col" >> "$OUT"
  for peer in "torch_mlp.py --threads 1" "sklearn_baselines.py --model ridge" "sklearn_baselines.py --model hgb"; do
    # shellcheck disable=SC2086
    "$PY" "$HERE/peer_run.py" --decisions 22 "$PEERS" "$TMP/p.json" $peer --data "$CSV" --target "$col" >> "$OUT"
  done
done
