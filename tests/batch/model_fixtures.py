"""A real model package built in the test: LightGBM on random data, exported to ONNX.

It has the published layout (`versions/<v>/model.onnx`, `package.json`, alias pointer files) so the batch
app is exercised exactly as it will be against packages published by the training pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import onnxmltools
from onnxmltools.convert.common.data_types import FloatTensorType

from steelthread_features import feature_names


def train_model(n_features: int, seed: int = 0, trees: int = 40) -> lgb.LGBMClassifier:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4_000, n_features)).astype(np.float32)
    x[rng.random(x.shape) < 0.05] = np.nan
    logits = np.nan_to_num(x[:, 0]) * 1.5 - np.nan_to_num(x[:, 1]) + 0.5 * np.nan_to_num(x[:, 2] * x[:, 3])
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-logits))).astype(int)
    model = lgb.LGBMClassifier(
        n_estimators=trees, num_leaves=15, learning_rate=0.1, verbose=-1, random_state=seed
    )
    model.fit(x, y)
    return model


def publish(
    models_dir: Path,
    version: str,
    *,
    names: list[str] | None = None,
    threshold: float = 0.5,
    aliases: tuple[str, ...] = ("champion",),
    seed: int = 0,
    trees: int = 40,
) -> Path:
    """Write `<models_dir>/versions/<version>/` and point the aliases at it; returns the folder."""
    names = names or feature_names()
    model = train_model(len(names), seed=seed, trees=trees)
    onnx_model = onnxmltools.convert_lightgbm(
        model, initial_types=[("input", FloatTensorType([None, len(names)]))], zipmap=False, target_opset=15
    )
    folder = models_dir / "versions" / version
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(onnx_model.SerializeToString())
    package = {
        "name": "credit-risk",
        "version": version,
        "feature_names": names,
        "threshold": threshold,
        "feature_service": "credit_risk_v1",
        "run_id": f"test-run-{version}",
        "created_at": "2026-11-01T00:00:00Z",
        "metrics": {"auc": 0.7},
    }
    (folder / "package.json").write_text(json.dumps(package, indent=2))
    for alias in aliases:
        (models_dir / f"{alias}.json").write_text(
            json.dumps({"version": version, "path": f"versions/{version}"})
        )
    return folder
