"""Feature value: permutation importance on the test slice flags a feature whose removal does not hurt. A
column of pure noise, which the trees still split on, is flagged; the features the label depends on are
not."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_error, roc_auc_score

from steelthread_contracts.package import Task
from steelthread_training.config import LightGBMConfig
from steelthread_training.feature_value import permutation_value, without_value
from steelthread_training.frame import LABEL
from steelthread_training.models import feature_importance, train_lightgbm

SIGNAL = ("income", "utilisation", "delinquencies")
NOISE = "noise"
FEATURES = (*SIGNAL, NOISE)
CONFIG = LightGBMConfig(n_estimators=120, num_leaves=15, min_child_samples=10, num_threads=1)


def _frame(rows: int, seed: int, task: Task) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(FEATURES)))
    signal = 1.3 * x[:, 0] - 1.0 * x[:, 1] + 0.8 * (x[:, 2] > 0.5)
    label = (
        (rng.random(rows) < 1 / (1 + np.exp(-signal))).astype(int) if task is Task.BINARY else 20 + 4 * signal
    )
    return pd.DataFrame(x, columns=list(FEATURES)).assign(**{LABEL: label})


def test_a_pure_noise_feature_is_flagged_and_the_signal_is_not() -> None:
    train, validation, test = (_frame(4000, s, Task.BINARY) for s in (1, 2, 3))
    model = train_lightgbm(train, validation, CONFIG, seed=0, features=FEATURES, task=Task.BINARY)
    assert feature_importance(model).set_index("feature").loc[NOISE, "splits"] > 0, "the trees use the noise"
    table = permutation_value(
        model, test, test[LABEL].to_numpy(), roc_auc_score, higher_is_better=True, seed=0
    )
    assert without_value(table) == [NOISE]
    ranked = table.set_index("feature")
    assert all(ranked.loc[f, "loss_mean"] > 0.01 for f in SIGNAL)
    # the same seed gives the same table
    again = permutation_value(
        model, test, test[LABEL].to_numpy(), roc_auc_score, higher_is_better=True, seed=0
    )
    pd.testing.assert_frame_equal(table, again)


def test_a_lower_is_better_metric_counts_a_loss_as_a_rise() -> None:
    train, validation, test = (_frame(3000, s, Task.REGRESSION) for s in (4, 5, 6))
    model = train_lightgbm(train, validation, CONFIG, seed=0, features=FEATURES, task=Task.REGRESSION)
    table = permutation_value(
        model, test, test[LABEL].to_numpy(), mean_absolute_error, higher_is_better=False, seed=1
    )
    assert without_value(table) == [NOISE]
    assert table.iloc[0]["feature"] == "income"
    assert table.iloc[0]["loss_mean"] > 0  # in minutes of MAE, the error grows when income is shuffled
