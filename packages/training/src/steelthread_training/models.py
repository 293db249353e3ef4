"""Stage 3: a scikit-learn baseline and the LightGBM model, both fully seeded, for the use case's task.

The baseline exists to be beaten: a LightGBM model that cannot outscore a linear model on the same test set
is not worth its complexity. Per task: binary, LightGBM `binary` against a logistic regression; regression,
LightGBM `regression`, `poisson` or `tweedie` (training.yaml) against a Ridge regression; multiclass,
LightGBM `multiclass` against a multinomial logistic regression. LightGBM runs with deterministic=True,
row-wise histograms and a fixed thread count, which together make the same data give the same trees, bit
for bit.
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

from steelthread_contracts.package import Task
from steelthread_training.config import BaselineConfig, LightGBMConfig
from steelthread_training.errors import TrainingError
from steelthread_training.frame import LABEL, MODEL_FEATURES, TASK

# OpenMP threads spin while waiting by default; on a busy two-core machine that made a 2-thread LightGBM fit
# many times slower than with passive waiting. Set before lightgbm loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@dataclass(frozen=True)
class TrainedModel:
    """A fitted model with the feature order it was fitted on and the task it predicts.

    `model` is a lightgbm.Booster (kind "lightgbm") or a scikit-learn pipeline (kind "baseline").
    """

    name: str
    model: Any
    feature_names: tuple[str, ...]
    params: dict[str, Any]
    task: Task = Task.BINARY
    classes: int | None = None
    """Multiclass: K (labels 0..K-1); a class the baseline never saw gets probability 0."""

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """The prediction per row, float64: binary, P(label 1) [N]; regression, the label [N];
        multiclass, every class's probability [N, K]."""
        return self.score_matrix(matrix(frame, self.feature_names))

    def score_matrix(self, x: np.ndarray) -> np.ndarray:
        if self.name == "lightgbm":
            return np.asarray(self.model.predict(x), dtype=np.float64)
        if self.task is Task.REGRESSION:
            return np.asarray(self.model.predict(x), dtype=np.float64)
        proba = np.asarray(self.model.predict_proba(x), dtype=np.float64)
        if self.task is Task.BINARY:
            return np.asarray(proba[:, 1])
        seen = np.asarray(self.model.classes_, dtype=np.int64)
        full = np.zeros((len(proba), self.classes or int(seen.max()) + 1), dtype=np.float64)
        full[:, seen] = proba
        return full


def matrix(frame: pd.DataFrame, features: Sequence[str] = MODEL_FEATURES) -> np.ndarray:
    """The model input: float64 columns in feature-service order, NaN for missing."""
    return np.ascontiguousarray(frame[list(features)].to_numpy(dtype=np.float64))


def labels(frame: pd.DataFrame, task: Task = TASK) -> np.ndarray:
    """The label column: integers for binary and multiclass, floats for regression."""
    return frame[LABEL].to_numpy(dtype=np.float64 if task is Task.REGRESSION else np.int64)


def objective_params(config: LightGBMConfig, task: Task, classes: int | None = None) -> dict[str, Any]:
    """LightGBM's objective for the task: binary; regression (L2), poisson or tweedie; multiclass."""
    if task is not Task.REGRESSION and config.objective is not None:
        raise TrainingError(f"lightgbm.objective {config.objective!r} is for regression; the task is {task}")
    if task is Task.BINARY:
        return {"objective": "binary"}
    if task is Task.MULTICLASS:
        if classes is None or classes < 3:
            raise TrainingError(f"a multiclass model needs at least 3 classes, got {classes}")
        return {"objective": "multiclass", "num_class": classes}
    objective = config.objective or "regression"
    params: dict[str, Any] = {"objective": objective}
    if objective == "tweedie":
        params["tweedie_variance_power"] = config.tweedie_variance_power
    return params


def lightgbm_params(
    config: LightGBMConfig, seed: int, task: Task = Task.BINARY, classes: int | None = None
) -> dict[str, Any]:
    return {
        **objective_params(config, task, classes),
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
    task: Task = TASK,
    classes: int | None = None,
) -> TrainedModel:
    """Fit with early stopping on the validation slice, then keep only the trees up to the best one.

    Truncating the booster (rather than predicting with best_iteration) means the exported ONNX graph,
    the tree hash and the native scores all describe the same model.
    """
    import lightgbm as lgb

    params = lightgbm_params(config, seed, task, classes)
    names = list(features)
    train_set = lgb.Dataset(
        matrix(train, features), labels(train, task), feature_name=names, free_raw_data=True
    )
    valid_set = lgb.Dataset(
        matrix(validation, features), labels(validation, task), feature_name=names, reference=train_set
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
        task=task,
        classes=classes,
    )


def train_baseline(
    train: pd.DataFrame,
    config: BaselineConfig,
    seed: int,
    features: Sequence[str] = MODEL_FEATURES,
    task: Task = TASK,
    classes: int | None = None,
) -> TrainedModel:
    """Median imputation (plus missing indicators), scaling, then a linear model: logistic regression
    (binary; multinomial for multiclass) or Ridge (regression)."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    estimator: Any
    params: dict[str, Any]
    if task is Task.REGRESSION:
        from sklearn.linear_model import Ridge

        params = {"alpha": config.alpha}
        estimator = Ridge(**params)
    else:
        from sklearn.linear_model import LogisticRegression

        params = {"C": config.C, "max_iter": config.max_iter, "random_state": seed, "solver": "lbfgs"}
        estimator = LogisticRegression(**params)  # lbfgs fits a multinomial model for 3+ classes
    pipeline = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("model", estimator),
        ]
    )
    pipeline.fit(matrix(train, features), labels(train, task))
    return TrainedModel(
        name="baseline",
        model=pipeline,
        feature_names=tuple(features),
        params=params,
        task=task,
        classes=classes,
    )


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
