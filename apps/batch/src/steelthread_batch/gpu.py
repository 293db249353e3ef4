"""`--device cuda`: scoring with the tensorised forest on a GPU (PyTorch, an optional install).

PyTorch is not in the workspace lock (it is large and CUDA-specific); it is installed in the separate GPU
environment described in docs/batch.md. Without it, `--device cuda` stops with one clear line.
"""

from __future__ import annotations

import importlib
import threading

import numpy as np

from steelthread_batch.errors import BatchInputError
from steelthread_batch.forest import DeviceForest, load_forest
from steelthread_batch.package import ModelPackage
from steelthread_batch.sessions import model_path

_LOCK = threading.Lock()
_FORESTS: dict[tuple[str, str], DeviceForest] = {}


def check_available(device: str = "cuda") -> None:
    """Raise a one-line BatchInputError unless PyTorch can use the device."""
    if device == "cpu":
        return
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        raise BatchInputError(
            "--device cuda needs PyTorch with CUDA, which is not installed in this environment; "
            "see docs/batch.md (GPU scoring) for the separate GPU environment"
        ) from None
    if not torch.cuda.is_available():
        raise BatchInputError("--device cuda: PyTorch is installed but sees no CUDA device")


def predict_on_device(package: ModelPackage, matrix: np.ndarray, device: str) -> np.ndarray:
    """Probabilities from the tensorised forest; `device` is "cpu" (NumPy) or "cuda" (PyTorch)."""
    key = (package.model_sha256, device)
    with _LOCK:
        forest = _FORESTS.get(key)
        if forest is None:
            check_available(device)
            forest = DeviceForest(load_forest(str(model_path(package))), device)
            _FORESTS[key] = forest
    return forest.predict(matrix)
