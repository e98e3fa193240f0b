"""hwnas: hardware-aware neural architecture search, from Python.

The C++ library (docs/python.md): search spaces, latency datasets, learned
latency predictors, lookup tables, OFA's evolutionary search and
measurement. The heavy work (training, batch prediction, search, timing)
runs in C++ without the GIL. `import hwnas.farm` adds measurement on many
devices with Dask (docs/distributed.md).
"""

from ._hwnas import (
    AshaRungs,
    BackendError,
    Dataset,
    DatasetBuild,
    DeviceModel,
    Error,
    FormatError,
    InvalidArgument,
    IoError,
    LookupTable,
    LutBuild,
    Model,
    ShapeMismatch,
    Space,
    TrialResult,
    TuneJob,
    __version__,
    adapt,
    build_lut,
    executors,
    import_torch,
    load_model,
    measure,
    search,
    space,
    time_lut_keys,
    time_networks,
    train,
    train_devices,
)

__all__ = [
    "AshaRungs",
    "BackendError",
    "Dataset",
    "DatasetBuild",
    "DeviceModel",
    "Error",
    "FormatError",
    "InvalidArgument",
    "IoError",
    "LookupTable",
    "LutBuild",
    "Model",
    "ShapeMismatch",
    "Space",
    "TrialResult",
    "TuneJob",
    "__version__",
    "adapt",
    "build_lut",
    "executors",
    "import_torch",
    "load_model",
    "measure",
    "search",
    "space",
    "time_lut_keys",
    "time_networks",
    "train",
    "train_devices",
    "tune",
]


def tune(data, *, target, **options):
    """ASHA over learning rate x momentum x weight decay on this machine, as
    `hwnas tune` (docs/tune.md): returns its JSON report as a dict (every
    trial, the best, the rungs). Options: split="benchmark", recipe="default",
    seed=0, max_epochs (the recipe's), grace_period=5, reduction_factor=4,
    learning_rates, momenta, weight_decays (the library's grid), threads=2.
    hwnas.farm.tune runs the same trials on Dask workers."""
    return TuneJob(data, target=target, **options).run()
