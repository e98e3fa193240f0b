#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages hwnas needs to build and test, skipping
# those already present. Prints one line when nothing is missing.
set -euo pipefail

# Core: Eigen. Program and file formats: nlohmann-json, yaml-cpp (OFA's lookup
# tables), CLI11, fmt (the program's text only). Tests: doctest,
# xtensor (an independent .npy writer). Benchmarks (-DHWNAS_BUILD_BENCHMARKS=ON):
# Google Benchmark.
packages=(
  cmake
  ninja-build
  g++
  libeigen3-dev
  nlohmann-json3-dev
  libcli11-dev
  libfmt-dev
  doctest-dev
  xtensor-dev
  libbenchmark-dev
  libyaml-cpp-dev
)

# --torch: also libtorch, for the optional libtorch measurement adapter
# (-DHWNAS_WITH_TORCH=ON) and the executor-vs-libtorch benchmark.
# --python: the Python module (-DHWNAS_PYTHON=ON): Python's headers,
# pybind11, NumPy, pytest for its tests, Dask distributed and tqdm for
# hwnas.farm (docs/distributed.md).
# --results: what tools/results/run.sh needs beyond the build: the peers'
# Python packages (OpenBLAS, or PyTorch trains on a reference BLAS, about
# 14x slower) and matplotlib for the report's figures.
for arg in "$@"; do
  case "$arg" in
    --torch) packages+=(libtorch-dev) ;;
    --python) packages+=(python3-dev pybind11-dev python3-numpy python3-pytest python3-distributed python3-tqdm) ;;
    --results)
      packages+=(python3-torch python3-sklearn python3-scipy libopenblas0-pthread python3-matplotlib)
      ;;
    *) echo "install-deps: unknown option '$arg' (expected --torch, --python or --results)" >&2; exit 2 ;;
  esac
done

missing=()
for pkg in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

if ((EUID == 0)); then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-deps: missing ${missing[*]}; run as root (or install sudo)" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update
"${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
