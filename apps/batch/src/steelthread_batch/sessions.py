"""One onnxruntime session per process and model, kept in an importable module.

Spark pickles the scoring function by reference to this module, so every task in a Python worker finds
the session already built; a cache in a `__main__` script would be rebuilt for every task (measured).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from steelthread_batch.errors import BatchInputError
from steelthread_batch.package import ModelPackage, sha256_of
from steelthread_contracts import package as contract
from steelthread_contracts.explain import BoosterExplainer, ExplainerUnavailableError

_LOCK = threading.Lock()
_SESSIONS: dict[tuple[str, str, int], Any] = {}
_EXPLAINERS: dict[tuple[str, str], BoosterExplainer] = {}
builds = 0
"""How many sessions this process has built (tests check that tasks reuse them)."""


def model_path(package: ModelPackage) -> Path:
    """Where the model file is in this process: the driver's path, or the shipped copy on an executor."""
    if package.shipped_as is not None:
        from pyspark import SparkFiles

        shipped = Path(SparkFiles.get(package.shipped_as)) / "model.onnx"
        if shipped.is_file():
            return shipped
    return package.model_path


def session_for(package: ModelPackage, threads: int = 0) -> Any:
    """The cached InferenceSession for the package (checked against its recorded sha256 once)."""
    global builds
    key = (package.model_sha256, package.shipped_as or package.directory, threads)
    with _LOCK:
        session = _SESSIONS.get(key)
        if session is not None:
            return session
        import onnxruntime as ort

        path = model_path(package)
        if sha256_of(path) != package.model_sha256:
            raise BatchInputError(f"{path} does not match the package's model (sha256 differs)")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        _SESSIONS[key] = session
        builds += 1
        return session


def explainer_for(package: ModelPackage) -> BoosterExplainer:
    """The cached explainer of the package's booster (`--reasons`), checked against its recorded sha256
    when loaded; a package without one, or an environment without LightGBM, is a one-line input error."""
    folder = model_path(package).parent
    key = (package.booster_sha256 or "", str(folder))
    with _LOCK:
        explainer = _EXPLAINERS.get(key)
        if explainer is not None:
            return explainer
        try:
            explainer = BoosterExplainer.load(folder, contract.read_manifest(folder))
        except (contract.PackageError, ExplainerUnavailableError) as exc:
            raise BatchInputError(f"{folder}: {exc}") from None
        if explainer is None:
            raise BatchInputError(f"{folder} ships no {contract.BOOSTER_FILE}: no reason codes without it")
        _EXPLAINERS[key] = explainer
        return explainer


def clear() -> None:
    with _LOCK:
        _SESSIONS.clear()
        _EXPLAINERS.clear()


def smoke_check(package: ModelPackage) -> None:
    """The package's graph re-scores its smoke cases as published (once, on the driver, before a run)."""
    from steelthread_batch.scoring import RunInfo, predict

    try:
        smoke = contract.read_smoke(Path(package.directory), package.feature_names)
        matrix = np.array(smoke.matrix(), dtype=np.float32)
        contract.check_smoke(smoke, predict(package, matrix, RunInfo("smoke", datetime.now(UTC))).tolist())
    except contract.PackageError as exc:
        raise BatchInputError(f"{package.directory}: {exc}") from None
