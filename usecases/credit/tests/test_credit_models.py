"""The generator's truth needs the model: on every feature, LightGBM's ROC AUC beats a logistic regression's
by at least the training gate's margin (training.yaml `gate.min_gain_over_baseline`) on the newest fifth of
the applications (time split), for five seeds.

If this fails, the example no longer shows why a tree ensemble is worth its cost, and the training gate,
whose baseline is that logistic regression, would refuse every model: the truth has become too linear.
bench/bench_model_margin.py measures the same margin through Feast and the training pipeline.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
import yaml
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from steelthread_contracts.asof import feature_frame
from steelthread_usecase_credit import USE_CASE
from steelthread_usecase_credit.generator import generate

ROWS = 20_000
CONFIG = yaml.safe_load(USE_CASE.training_config.read_text(encoding="utf-8"))


def test_the_gate_baseline_is_a_logistic_regression_on_every_feature_with_a_margin() -> None:
    assert CONFIG["baseline"].get("features") is None
    assert CONFIG["gate"]["min_gain_over_baseline"] >= 0.02


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_lightgbm_beats_logistic_regression_on_all_features(seed: int) -> None:
    frame = feature_frame(USE_CASE, generate(ROWS, seed=seed))
    assert frame[USE_CASE.tables.event_timestamp].is_monotonic_increasing, "the split below is by time"
    x = frame[list(USE_CASE.feature_names)].to_numpy(dtype=np.float64)
    y = frame[USE_CASE.tables.label].to_numpy(dtype=np.int64)
    cut = int(len(frame) * 0.8)
    logistic = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=CONFIG["baseline"]["C"], max_iter=CONFIG["baseline"]["max_iter"]),
    ).fit(x[:cut], y[:cut])
    params = CONFIG["lightgbm"]
    trees = lgb.LGBMClassifier(
        n_estimators=300,
        learning_rate=params["learning_rate"],
        num_leaves=params["num_leaves"],
        min_child_samples=params["min_child_samples"],
        reg_lambda=params["reg_lambda"],
        n_jobs=2,
        deterministic=True,
        force_row_wise=True,
        random_state=seed,
        verbose=-1,
    ).fit(x[:cut], y[:cut])
    auc_logistic = float(roc_auc_score(y[cut:], logistic.predict_proba(x[cut:])[:, 1]))
    auc_trees = float(roc_auc_score(y[cut:], trees.predict_proba(x[cut:])[:, 1]))
    gain = auc_trees - auc_logistic
    print(f"seed {seed}: ROC AUC logistic {auc_logistic:.4f}, LightGBM {auc_trees:.4f}, gain {gain:+.4f}")
    assert gain >= CONFIG["gate"]["min_gain_over_baseline"], (auc_logistic, auc_trees)
