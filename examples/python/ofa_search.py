"""OFA's tutorial search on hwnas: the Samsung Note10 lookup table as latency,
OFA's accuracy predictor as fitness, population 100, 500 generations, 25 ms.

The accuracy predictor runs twice: imported into C++ (hwnas.import_torch),
and as a plain Python function of a batch of architectures (NumPy, from the
same .npy weights), as a user's own PyTorch predictor would. Both searches
find the same network.

    PYTHONPATH=build/python python3 examples/python/ofa_search.py [DATA_DIR]

DATA_DIR (default $HWNAS_DATA_DIR, else ../shared/data beside the
repository) holds note10-lut/ and ofa-acc-predictor/ (docs/data.md). Exits
with 77 (skipped) when they are absent.
"""

import os
import pathlib
import sys

import numpy as np

import hwnas

REPO = pathlib.Path(__file__).resolve().parents[2]
data = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("HWNAS_DATA_DIR", REPO.parent / "shared" / "data"))
lut_dir, npy_dir = data / "note10-lut", data / "ofa-acc-predictor"
if not lut_dir.is_dir() or not npy_dir.is_dir():
    print(f"skipped: no {lut_dir} or {npy_dir}")
    sys.exit(77)

space = hwnas.space("ofa-mbv3", width=1.2, resolutions=[160, 176, 192, 208, 224])
lut = hwnas.LookupTable.read(str(lut_dir), space)
accuracy = hwnas.import_torch(str(npy_dir), space)

result = hwnas.search(space, latency=lut, accuracy=accuracy, budgets=[25], seed=0)
best = result["results"][0]
print(f"C++ accuracy predictor: top-1 {100 * best['accuracy']:.2f} % at {best['latency']:.2f} ms "
      f"(Note10), {best['macs'] / 1e6:.0f} M MACs, {result['search_s']:.2f} s")
print(best["arch"])

# OFA's tutorial predictor in NumPy (ofa-reference.md §7.1-7.2): a one-hot of
# each active layer's kernel and expand ratio and of the resolution's bin,
# then Linear-ReLU x3 and Linear.
layers = [(np.load(npy_dir / f"{i}.weight.npy"), np.load(npy_dir / f"{i}.bias.npy")) for i in (0, 2, 4, 6)]
K, E = {3: 0, 5: 1, 7: 2}, {3: 0, 4: 1, 6: 2}


def features(arch):
    x = np.zeros(128, dtype=np.float32)
    for i in range(20):
        if i % 4 < arch["d"][i // 4]:
            x[3 * i + K[arch["ks"][i]]] = 1
            x[60 + 3 * i + E[arch["e"][i]]] = 1
    x[120 + (arch["r"][0] - 112) // 16] = 1
    return x


def numpy_accuracy(archs):
    h = np.stack([features(a) for a in archs])
    for k, (w, b) in enumerate(layers):
        h = h @ w.T + b
        if k < len(layers) - 1:
            h = np.maximum(h, 0)
    return h[:, 0]


again = hwnas.search(space, latency=lut, accuracy=numpy_accuracy, budgets=[25], seed=0)["results"][0]
print(f"NumPy accuracy predictor: top-1 {100 * again['accuracy']:.2f} % at {again['latency']:.2f} ms")
# The same network (inactive layers' choices are don't-care: compare hashes).
if space.hash(again["arch"]) != space.hash(best["arch"]):
    sys.exit(f"the two searches found different networks: {again['arch']}")
