"""hwnas: hardware-aware neural architecture search, from Python.

The C++ library (docs/python.md): search spaces, latency datasets, learned
latency predictors, lookup tables and OFA's evolutionary search. The heavy
work (training, batch prediction, search) runs in C++ without the GIL.
"""

from ._hwnas import (
    BackendError,
    Dataset,
    DeviceModel,
    Error,
    FormatError,
    InvalidArgument,
    IoError,
    LookupTable,
    Model,
    ShapeMismatch,
    Space,
    __version__,
    adapt,
    import_torch,
    load_model,
    search,
    space,
    train,
    train_devices,
)

__all__ = [
    "BackendError",
    "Dataset",
    "DeviceModel",
    "Error",
    "FormatError",
    "InvalidArgument",
    "IoError",
    "LookupTable",
    "Model",
    "ShapeMismatch",
    "Space",
    "__version__",
    "adapt",
    "import_torch",
    "load_model",
    "search",
    "space",
    "train",
    "train_devices",
]
