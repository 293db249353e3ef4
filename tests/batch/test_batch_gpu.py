"""The tensorised forest (the `--device cuda` scorer) against onnxruntime, on the CPU with NumPy.

PyTorch is not in the workspace lock, so CI runs the same traversal code with NumPy arrays; the CUDA run
differs only in the array library (see docs/batch.md for the GPU environment and its parity check). The
forest scores binary packages, so these are binary whatever the active use case's task.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from batch.model_fixtures import publish

from steelthread_batch.errors import BatchInputError
from steelthread_batch.forest import DeviceForest, load_forest
from steelthread_batch.gpu import check_available
from steelthread_batch.package import resolve_package


def test_tensorised_forest_matches_onnxruntime(binary_package) -> None:
    package = binary_package
    rng = np.random.default_rng(31)
    matrix = rng.normal(size=(20_000, len(package.feature_names))).astype(np.float32)
    matrix[rng.random(matrix.shape) < 0.1] = np.nan
    matrix[:50] = np.nan  # rows of missing values take each node's default branch
    session = ort.InferenceSession(str(package.model_path), providers=["CPUExecutionProvider"])
    want = session.run(["probabilities"], {"features": matrix})[0][:, 1]
    forest = load_forest(str(package.model_path))
    assert len(forest.roots) == 40
    got = DeviceForest(forest, "cpu").predict(matrix, chunk_rows=7_000)
    assert got.dtype == np.float32
    assert np.abs(got - want).max() <= 1e-6


def test_thresholds_are_compared_in_float32_like_onnxruntime(tmp_path) -> None:
    folder = publish(tmp_path, "7", names=["a", "b", "c", "d"], seed=3, trees=15, task="binary")
    package = resolve_package(tmp_path, version="7")
    forest = load_forest(str(folder / "model.onnx"))
    # Inputs exactly on split thresholds are where float64 comparisons would disagree.
    split_values = forest.threshold[~forest.leaf]
    columns = forest.feature[~forest.leaf]
    matrix = np.zeros((len(split_values), 4), dtype=np.float32)
    matrix[np.arange(len(split_values)), columns] = split_values
    session = ort.InferenceSession(str(package.model_path), providers=["CPUExecutionProvider"])
    want = session.run(["probabilities"], {"features": matrix})[0][:, 1]
    assert np.abs(DeviceForest(forest, "cpu").predict(matrix) - want).max() <= 1e-6


def test_cuda_needs_pytorch() -> None:
    with pytest.raises(BatchInputError, match="--device cuda needs PyTorch"):
        check_available("cuda")
