"""Build real model packages (LightGBM -> ONNX) in the published layout, for serving and batch tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import lightgbm as lgb
import numpy as np
import onnxmltools
import onnxruntime as ort
from onnxmltools.convert.common.data_types import FloatTensorType

from steelthread_features.definitions import FEATURE_NAMES


def train_tiny(feature_names: list[str], seed: int, rows: int = 400) -> lgb.LGBMClassifier:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(feature_names))).astype(np.float32)
    logits = x[:, 0] - 0.5 * x[:, 1] + rng.normal(scale=0.5, size=rows)
    y = (logits > 0).astype(int)
    model = lgb.LGBMClassifier(
        n_estimators=15, num_leaves=7, random_state=seed, deterministic=True, verbose=-1, n_jobs=1
    )
    model.fit(x, y)
    return model


def onnx_scores(path: Path, matrix: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    _, probabilities = session.run(None, {session.get_inputs()[0].name: matrix.astype(np.float32)})
    return np.asarray(probabilities)[:, 1]


def make_package(
    root: Path,
    version: str,
    *,
    seed: int = 0,
    feature_names: list[str] | None = None,
    threshold: float = 0.5,
) -> Path:
    """Write `root/versions/<version>/` with model.onnx, package.json and smoke.json; return the folder."""
    names = feature_names or list(FEATURE_NAMES)
    model = train_tiny(names, seed)
    onx = onnxmltools.convert_lightgbm(
        model,
        initial_types=[("features", FloatTensorType([None, len(names)]))],
        zipmap=False,
        target_opset=15,
    )
    folder = root / "versions" / version
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(onx.SerializeToString())
    manifest = {
        "name": "credit-risk-lgbm",
        "version": version,
        "feature_names": names,
        "threshold": threshold,
        "feature_service": "credit_risk_v1",
        "run_id": f"test-run-{version}",
        "created_at": "2026-11-22T00:00:00Z",
        "metrics": {},
    }
    (folder / "package.json").write_text(json.dumps(manifest))
    rng = np.random.default_rng(seed + 1)
    smoke = rng.normal(size=(5, len(names))).astype(np.float32)
    scores = onnx_scores(folder / "model.onnx", smoke)
    cases = [
        {"features": dict(zip(names, map(float, row), strict=True)), "expected_score": float(s)}
        for row, s in zip(smoke, scores, strict=True)
    ]
    (folder / "smoke.json").write_text(json.dumps({"cases": cases}))
    return folder


def publish(root: Path, alias: str, version: str) -> None:
    """Point an alias at a version the way promotion does: write a temp file, then os.replace."""
    tmp = root / f".{alias}.json.tmp"
    tmp.write_text(json.dumps({"version": version, "path": f"versions/{version}"}))
    os.replace(tmp, root / f"{alias}.json")


def unpublish(root: Path, alias: str) -> None:
    (root / f"{alias}.json").unlink()
