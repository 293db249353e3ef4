"""Stage 3: a scikit-learn baseline and the LightGBM model, both fully seeded.

The baseline exists to be beaten: a LightGBM model that cannot outscore a logistic regression on the same
test set is not worth its complexity. LightGBM runs with deterministic=True, row-wise histograms and a
fixed thread count, which together make the same data give the same trees, bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from steelthread_training.config import BaselineConfig, LightGBMConfig
from steelthread_training.frame import LABEL, MODEL_FEATURES

# OpenMP threads spin while waiting by default; on a busy two-core machine that made a 2-thread LightGBM fit
# ten times slower than with passive waiting (measured 4.5 s vs 0.5 s). Set before lightgbm loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@dataclass(frozen=True)
class TrainedModel:
    """A fitted classifier with the feature order it was fitted on.

    `model` is a lightgbm.Booster (kind "lightgbm") or a scikit-learn pipeline (kind "baseline").
    """

    name: str
    model: Any
    feature_names: tuple[str, ...]
    params: dict[str, Any]

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """The score per row, float64 (binary: the positive class's probability)."""
        return self.score_matrix(matrix(frame, self.feature_names))

    def score_matrix(self, x: np.ndarray) -> np.ndarray:
        if self.name == "lightgbm":
            return np.asarray(self.model.predict(x), dtype=np.float64)
        proba = np.asarray(self.model.predict_proba(x), dtype=np.float64)
        return np.asarray(proba[:, 1])


def matrix(frame: pd.DataFrame, features: Sequence[str] = MODEL_FEATURES) -> np.ndarray:
    """The model input: float64 columns in feature-service order, NaN for missing."""
    return np.ascontiguousarray(frame[list(features)].to_numpy(dtype=np.float64))


def labels(frame: pd.DataFrame) -> np.ndarray:
    return frame[LABEL].to_numpy(dtype=np.int64)


def lightgbm_params(config: LightGBMConfig, seed: int) -> dict[str, Any]:
    return {
        "objective": "binary",
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "min_data_in_leaf": config.min_child_samples,
        "lambda_l2": config.reg_lambda,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": config.num_threads,
        "verbose": -1,
    }


def train_lightgbm(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    config: LightGBMConfig,
    seed: int,
    features: Sequence[str] = MODEL_FEATURES,
) -> TrainedModel:
    """Fit with early stopping on the validation slice, then keep only the trees up to the best one.

    Truncating the booster (rather than predicting with best_iteration) means the exported ONNX graph,
    the tree hash and the native scores all describe the same model.
    """
    import lightgbm as lgb

    params = lightgbm_params(config, seed)
    names = list(features)
    train_set = lgb.Dataset(matrix(train, features), labels(train), feature_name=names, free_raw_data=True)
    valid_set = lgb.Dataset(
        matrix(validation, features), labels(validation), feature_name=names, reference=train_set
    )
    callbacks: list[Callable[..., Any]] = []
    if config.early_stopping_rounds > 0:
        callbacks.append(lgb.early_stopping(config.early_stopping_rounds, verbose=False))
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=config.n_estimators,
        valid_sets=[valid_set],
        valid_names=["validation"],
        callbacks=callbacks,
    )
    best = int(booster.best_iteration) if booster.best_iteration > 0 else booster.current_iteration()
    final = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    return TrainedModel(
        name="lightgbm",
        model=final,
        feature_names=tuple(features),
        params={**params, "n_estimators": config.n_estimators, "best_iteration": best},
    )


def train_baseline(
    train: pd.DataFrame, config: BaselineConfig, seed: int, features: Sequence[str] = MODEL_FEATURES
) -> TrainedModel:
    """Median imputation (plus missing indicators), scaling, logistic regression."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    params = {"C": config.C, "max_iter": config.max_iter, "random_state": seed, "solver": "lbfgs"}
    pipeline = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("model", LogisticRegression(**params)),
        ]
    )
    pipeline.fit(matrix(train, features), labels(train))
    return TrainedModel(name="baseline", model=pipeline, feature_names=tuple(features), params=params)


def tree_dump(model: TrainedModel) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model.dump_model()
    return dumped


def tree_hash(model: TrainedModel) -> str:
    """sha256 of the trees alone (structure, thresholds, leaf values): equal hashes, equal models."""
    trees = tree_dump(model)["tree_info"]
    return hashlib.sha256(json.dumps(trees, sort_keys=True).encode()).hexdigest()


def feature_importance(model: TrainedModel) -> pd.DataFrame:
    booster = model.model
    gain = booster.feature_importance(importance_type="gain")
    split = booster.feature_importance(importance_type="split")
    frame = pd.DataFrame({"feature": list(model.feature_names), "gain": gain, "splits": split})
    return frame.sort_values(["gain", "feature"], ascending=[False, True]).reset_index(drop=True)
