"""The generator's truth needs the model: on every feature, LightGBM's MAE is at least 5 % below a ridge
regression's on the newest fifth of the orders (time split), for three seeds.

If this fails, the example no longer shows why a tree ensemble is worth its cost (and the training gate's
`min_gain_over_baseline` would refuse every model): the truth has become too linear.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from steelthread_contracts.asof import feature_frame
from steelthread_usecase_delivery import USE_CASE
from steelthread_usecase_delivery.generator import generate

ROWS = 20_000
MIN_GAIN = 0.05


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lightgbm_beats_ridge_on_all_features(seed: int) -> None:
    frame = feature_frame(USE_CASE, generate(ROWS, seed=seed))
    assert frame[USE_CASE.tables.event_timestamp].is_monotonic_increasing, "the split below is by time"
    x = frame[list(USE_CASE.feature_names)].to_numpy(dtype=np.float64)
    y = frame[USE_CASE.tables.label].to_numpy(dtype=np.float64)
    cut = int(len(frame) * 0.8)
    ridge = make_pipeline(SimpleImputer(), StandardScaler(), Ridge(alpha=1.0)).fit(x[:cut], y[:cut])
    trees = lgb.LGBMRegressor(
        objective="regression",
        n_estimators=300,
        learning_rate=0.05,
        num_leaves=15,
        min_child_samples=40,
        n_jobs=2,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    ).fit(x[:cut], y[:cut])
    mae_ridge = float(np.abs(ridge.predict(x[cut:]) - y[cut:]).mean())
    mae_trees = float(np.abs(trees.predict(x[cut:]) - y[cut:]).mean())
    gain = 1.0 - mae_trees / mae_ridge
    print(f"seed {seed}: MAE ridge {mae_ridge:.3f}, LightGBM {mae_trees:.3f} min, gain {gain:.1%}")
    assert gain >= MIN_GAIN, (mae_ridge, mae_trees)
