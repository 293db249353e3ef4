"""Build real model packages (LightGBM -> ONNX) through the package contract, for every reader's tests.

There is one factory: serving, batch and monitoring tests all get their packages from `make_package`,
which writes a run package with `steelthread_contracts.package` and publishes it the way promotion does,
so a test package can never drift from what training publishes.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import lightgbm as lgb
import numpy as np
import onnx
import onnxmltools
import onnxruntime as ort
import pandas as pd
from onnxmltools.convert.common.data_types import FloatTensorType

from helpers.usecase import USE_CASE
from steelthread_contracts import package as contract
from steelthread_features.definitions import FEATURE_NAMES

INPUT_NAME = "features"
MODEL_NAME = f"{USE_CASE.name}-test-lgbm"
"""The name test packages carry unless a test names its own."""


def train_tiny(
    feature_names: list[str],
    seed: int,
    rows: int = 400,
    trees: int = 15,
    missing: float = 0.0,
    task: str = USE_CASE.task.value,
    value_range: tuple[float, float] | None = None,
) -> lgb.LGBMClassifier | lgb.LGBMRegressor:
    """A binary classifier, or with `task="regression"` a regressor of the same signal (the logit, or
    with `value_range` the logit squashed into that range), or with `task="multiclass"` a three-class
    classifier (the logit's terciles)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(feature_names))).astype(np.float32)
    logits = x[:, 0] - 0.5 * x[:, 1] + rng.normal(scale=0.5, size=rows)
    if len(feature_names) > 3:
        logits += 0.5 * x[:, 2] * x[:, 3]
    if missing:
        x[rng.random(x.shape) < missing] = np.nan
    names = list(feature_names)  # the booster names its features as the package does (booster.txt)
    params = {
        "n_estimators": trees,
        "num_leaves": 7,
        "random_state": seed,
        "deterministic": True,
        "verbose": -1,
        "n_jobs": 1,
    }
    if contract.Task(task) is contract.Task.REGRESSION:
        if value_range is not None:
            low, high = value_range
            target = low + (high - low) / (1 + np.exp(-logits))
            return lgb.LGBMRegressor(**params).fit(x, target, feature_name=names)
        return lgb.LGBMRegressor(**params).fit(x, logits, feature_name=names)
    if contract.Task(task) is contract.Task.MULTICLASS:
        classes = np.digitize(logits, np.quantile(logits, [1 / 3, 2 / 3]))
        return lgb.LGBMClassifier(**params).fit(x, classes, feature_name=names)
    return lgb.LGBMClassifier(**params).fit(x, (logits > 0).astype(int), feature_name=names)


SCORED_CLASS = {"binary": 1, "multiclass": 2}
"""The class whose probability a classifier package answers as its score."""


def onnx_scores(path: Path, matrix: np.ndarray, task: str = USE_CASE.task.value) -> np.ndarray:
    """Scores straight from onnxruntime: the scored class's probability (binary, multiclass), or the
    prediction of the graph's one output (regression)."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {INPUT_NAME: matrix.astype(np.float32)}
    if contract.Task(task) is contract.Task.REGRESSION:
        (prediction,) = session.run(None, feed)
        return np.asarray(prediction).reshape(-1)
    (probabilities,) = session.run(["probabilities"], feed)
    return np.asarray(probabilities)[:, SCORED_CLASS[task]]


def make_package(
    root: Path,
    version: str,
    *,
    seed: int = 0,
    feature_names: list[str] | None = None,
    threshold: float = 0.5,
    review_threshold: float | None = None,
    trees: int = 15,
    rows: int = 400,
    missing: float = 0.0,
    name: str = MODEL_NAME,
    task: str = USE_CASE.task.value,
    booster: bool = False,
) -> Path:
    """Publish `root/versions/<version>/` (model.onnx, smoke.json, package.json); return the folder.

    With `booster` the package also ships the LightGBM model as `booster.txt`, as training's do (readers
    explain decisions from it).

    `review_threshold` defaults to 0.75 x `threshold`; the package states both, as training's do. A
    `task="regression"` package (LGBMRegressor, ONNX output [N, 1]) states no thresholds and no
    positive class.
    """
    names = feature_names or list(FEATURE_NAMES)
    regression = contract.Task(task) is contract.Task.REGRESSION
    # A package of the session's own task answers inside its use case's score range, as a trained one does.
    value_range = USE_CASE.score_range if contract.Task(task) is USE_CASE.task else None
    model = train_tiny(
        names, seed, rows=rows, trees=trees, missing=missing, task=task, value_range=value_range
    )
    onx = onnxmltools.convert_lightgbm(
        model,
        initial_types=[(INPUT_NAME, FloatTensorType([None, len(names)]))],
        zipmap=False,
        target_opset=15,
    )
    with tempfile.TemporaryDirectory(prefix="test-package-") as tmp:
        run = Path(tmp)
        (run / contract.MODEL_FILE).write_bytes(onx.SerializeToString())
        if booster:
            (run / contract.BOOSTER_FILE).write_text(model.booster_.model_to_string())
        smoke = np.random.default_rng(seed + 1).normal(size=(5, len(names))).astype(np.float32)
        smoke[0, 0] = np.nan  # a missing value is part of every smoke test
        scores = onnx_scores(run / contract.MODEL_FILE, smoke, task=task)
        cases = [
            contract.SmokeCase(
                name=f"case{i}",
                features=[None if np.isnan(v) else float(v) for v in row],
                expected_score=float(s),
            )
            for i, (row, s) in enumerate(zip(smoke, scores, strict=True))
        ]
        contract.write_smoke(run, contract.SmokeDocument(feature_names=names, tolerance=1e-5, cases=cases))
        fields = {
            "name": name,
            "feature_names": names,
            "threshold": threshold,
            "review_threshold": threshold * 0.75 if review_threshold is None else review_threshold,
            "feature_service": USE_CASE.feature_service,
            "run_id": f"test-run-{version}-{seed}",
            "created_at": "2026-11-22T00:00:00Z",
            "onnx": {"input": INPUT_NAME, "output": "probabilities", "positive_class_index": 1},
        }
        if regression:
            output = onx.graph.output[0].name
            fields |= {
                "task": task,
                "threshold": None,
                "review_threshold": None,
                "onnx": {"input": INPUT_NAME, "output": output, "positive_class_index": None},
            }
        elif contract.Task(task) is contract.Task.MULTICLASS:
            scored = SCORED_CLASS[task]
            fields |= {
                "task": task,
                "threshold": None,
                "review_threshold": None,
                "onnx": {"input": INPUT_NAME, "output": "probabilities", "positive_class_index": scored},
            }
        contract.write_run_manifest(run, fields)
        return contract.publish(run, root, version)


def make_constant_package(root: Path, version: str, score: float, *, name: str = MODEL_NAME) -> Path:
    """Publish a package whose graph answers `score` for every row, whatever the features: a deliberately
    bad canary (a score outside the use case's range is invalid on every request; one at an end of the
    range shifts the score distribution). Binary or regression, as the session's use case is."""
    names = list(FEATURE_NAMES)
    task = contract.Task(USE_CASE.task)
    if task is contract.Task.MULTICLASS:
        raise AssertionError("constant packages are binary or regression")
    binary = task is contract.Task.BINARY
    row, output = ([1.0 - score, score], "probabilities") if binary else ([score], "variable")
    h = onnx.helper
    graph = h.make_graph(
        [
            h.make_node("Shape", [INPUT_NAME], ["shape"]),
            h.make_node("Slice", ["shape", "start", "one"], ["rows"]),
            h.make_node("Concat", ["rows", "width"], ["out_shape"], axis=0),
            h.make_node("Expand", ["row", "out_shape"], [output]),
        ],
        "constant",
        [h.make_tensor_value_info(INPUT_NAME, onnx.TensorProto.FLOAT, [None, len(names)])],
        [h.make_tensor_value_info(output, onnx.TensorProto.FLOAT, [None, len(row)])],
        initializer=[
            h.make_tensor("start", onnx.TensorProto.INT64, [1], [0]),
            h.make_tensor("one", onnx.TensorProto.INT64, [1], [1]),
            h.make_tensor("width", onnx.TensorProto.INT64, [1], [len(row)]),
            h.make_tensor("row", onnx.TensorProto.FLOAT, [1, len(row)], row),
        ],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 15)])
    with tempfile.TemporaryDirectory(prefix="test-package-") as tmp:
        run = Path(tmp)
        (run / contract.MODEL_FILE).write_bytes(model.SerializeToString())
        expected = float(np.float32(score))
        case = contract.SmokeCase(name="any", features=[0.0] * len(names), expected_score=expected)
        contract.write_smoke(run, contract.SmokeDocument(feature_names=names, tolerance=1e-5, cases=[case]))
        fields: dict[str, object] = {
            "task": task.value,
            "name": name,
            "feature_names": names,
            "threshold": 0.5 if binary else None,
            "review_threshold": 0.375 if binary else None,
            "feature_service": USE_CASE.feature_service,
            "run_id": f"test-constant-{version}",
            "created_at": "2026-11-22T00:00:00Z",
            "onnx": {"input": INPUT_NAME, "output": output, "positive_class_index": 1 if binary else None},
        }
        contract.write_run_manifest(run, fields)
        return contract.publish(run, root, version)


def rehash(folder: Path) -> None:
    """Record the current hashes of a package's files after a test broke one on purpose, so the check
    under test (the graph, the smoke scores) is reached instead of the hash check."""
    manifest = json.loads((folder / contract.PACKAGE_FILE).read_text())
    manifest["sha256"] = {
        name: contract.sha256_file(folder / name) for name in manifest["sha256"] if (folder / name).is_file()
    }
    (folder / contract.PACKAGE_FILE).write_text(json.dumps(manifest))


def publish(root: Path, alias: str, version: str) -> None:
    """Point an alias at a version the way promotion does (atomic replace)."""
    contract.write_pointer(root, alias, version)


def promote(root: Path, version: str) -> None:
    """Move `champion` to a published version the way promotion does: the champion it replaces is kept
    as `stable` first."""
    contract.keep_stable(root, version)
    contract.write_pointer(root, "champion", version)


def unpublish(root: Path, alias: str) -> None:
    contract.remove_pointer(root, alias)


def publish_reference(
    root: Path,
    version: str,
    reference: pd.DataFrame,
    *,
    feature_names: list[str],
    threshold: float = 0.5,
    created_at: str = "2026-11-22T00:00:00Z",
    alias: str = "champion",
    task: str = USE_CASE.task.value,
    name: str = "credit-risk",
) -> Path:
    """A reference-only package (what monitoring reads: package.json and reference.parquet), published
    through the contract and pointed at by `alias`; returns the published folder.

    Only a binary package states thresholds (`threshold` is ignored for other tasks, as the contract wants).
    """
    fields: dict[str, object] = {
        "task": task,
        "name": name,
        "feature_names": feature_names,
        "run_id": f"test-reference-{version}",
        "created_at": created_at,
    }
    if task == contract.Task.BINARY:
        fields |= {"threshold": threshold, "review_threshold": threshold * 0.75}
    with tempfile.TemporaryDirectory(prefix="test-reference-") as tmp:
        run = Path(tmp)
        reference.to_parquet(run / contract.REFERENCE_FILE, index=False)
        contract.write_run_manifest(run, fields)
        folder = contract.publish(run, root, version)
    contract.write_pointer(root, alias, version)
    return folder
