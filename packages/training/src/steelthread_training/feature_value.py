"""What each feature is worth to the trained model: permutation importance on the test slice.

Gain importance says where the trees split, not what a feature adds: a feature of pure noise still gets
splits. Permutation importance (scikit-learn's `permutation_importance`) shuffles one feature's column on
the test slice and measures how much the task's primary metric gets worse, a few times over; a feature
whose loss is not clearly above zero (the mean loss within `tolerance` standard deviations of it) can be
removed without hurting, and is flagged. The training run logs the table and the flagged features, so a
feature that costs a read per request but earns nothing shows up before it is served for another year.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from steelthread_training.models import TrainedModel, matrix

REPEATS = 5
TOLERANCE = 2.0
"""Standard deviations of the repeats within which a mean loss counts as none."""


class _Scored:
    """`permutation_importance` wants an estimator; the model is already fitted, so `fit` is never called."""

    def __init__(self, model: TrainedModel) -> None:
        self.model = model

    def fit(self, *_: object) -> _Scored:  # pragma: no cover - never called
        return self


def permutation_value(
    model: TrainedModel,
    test: pd.DataFrame,
    y: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float],
    *,
    higher_is_better: bool,
    seed: int,
    features: Sequence[str] | None = None,
    repeats: int = REPEATS,
    tolerance: float = TOLERANCE,
) -> pd.DataFrame:
    """One row per feature: `loss_mean`, `loss_std` (how much worse the metric gets when it is shuffled,
    in the metric's units, positive = the feature helps) and `no_value` (its removal does not hurt),
    largest loss first. `metric(y, predictions)` is the task's primary metric."""
    from sklearn.inspection import permutation_importance

    names = list(features or model.feature_names)
    sign = 1.0 if higher_is_better else -1.0

    def scorer(estimator: Any, x: np.ndarray, labels: np.ndarray) -> float:
        return sign * metric(labels, estimator.model.score_matrix(x))

    result = permutation_importance(
        _Scored(model),
        matrix(test, names),
        y,
        scoring=scorer,
        n_repeats=repeats,
        random_state=seed,
        n_jobs=1,
    )
    frame = pd.DataFrame(
        {
            "feature": names,
            "loss_mean": result.importances_mean,
            "loss_std": result.importances_std,
        }
    )
    frame["no_value"] = frame["loss_mean"] <= tolerance * frame["loss_std"]
    return frame.sort_values(["loss_mean", "feature"], ascending=[False, True]).reset_index(drop=True)


def without_value(table: pd.DataFrame) -> list[str]:
    """The flagged features, in the table's order."""
    return [str(f) for f in table.loc[table["no_value"], "feature"]]
