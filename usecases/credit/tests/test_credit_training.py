"""The credit example's training values, whatever use case the process runs: its training.yaml (the
registered name that must stay `credit-risk`, the income bands), its derived
income-band slice and its smoke cases as the transform sees them.

The plumbing that reads them (training's frame names, `add_derived_slices`, the smoke vectors) is tested use
case neutrally in tests/training; this is what the credit example itself promises. Only the credit package
and its training.yaml are read: nothing here activates a use case.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from steelthread_usecase_credit import USE_CASE
from steelthread_usecase_credit.domain import HISTORY_FEATURES, INCOME_BAND
from steelthread_usecase_credit.slices import add_derived_slices, income_band
from steelthread_usecase_credit.transforms import application_features

CONFIG = yaml.safe_load(USE_CASE.training_config.read_text(encoding="utf-8"))
SMOKE = {case.name: case for case in USE_CASE.smoke_cases}


def test_the_registered_name_stays_credit_risk() -> None:
    """Registries, dashboards and the runbooks know the model as credit-risk (not `credit-lgbm`)."""
    assert CONFIG["registry"]["model_name"] == "credit-risk"


def test_the_slices_are_purpose_income_band_and_region_and_fairness_is_across_protected_groups() -> None:
    assert USE_CASE.slices == ("purpose", INCOME_BAND, "region")
    assert CONFIG["slices"]["columns"] == list(USE_CASE.slices)
    assert USE_CASE.protected_attribute == "protected_group"
    assert USE_CASE.protected_attribute not in USE_CASE.feature_names
    assert USE_CASE.derived_slices == "steelthread_usecase_credit.slices:add_derived_slices"


def test_income_band_names_zero_income_apart() -> None:
    bands = income_band(
        pd.Series([0.0, np.nan, 10_000.0, 30_000.0, 60_000.0, 250_000.0]), (25e3, 50e3, 100e3)
    )
    assert list(bands) == ["none", "none", "<25000", "25000-50000", "50000-100000", ">=100000"]


def test_derived_slices_take_the_bands_of_the_training_yaml() -> None:
    options = CONFIG["slices"]["options"]
    assert options == {"income_bands": [25_000, 50_000, 100_000]}
    frame = pd.DataFrame({"income": [0.0, 30_000.0, 250_000.0], "x": [1.0, 2.0, 3.0]})
    out = add_derived_slices(frame, options)
    assert list(out.columns) == ["income", "x", INCOME_BAND]
    assert list(out[INCOME_BAND]) == ["none", "25000-50000", ">=100000"]
    assert INCOME_BAND not in frame.columns  # the caller's frame is left alone
    coarse = add_derived_slices(frame, {"income_bands": [100_000]})
    assert list(coarse[INCOME_BAND]) == ["none", "<100000", ">=100000"]
    with pytest.raises(ValueError, match="unknown slice option"):
        add_derived_slices(frame, {"income_band": [1]})


def test_the_zero_income_and_unknown_customer_smoke_cases_test_what_they_say() -> None:
    """zero_income must reach the model as the income flag; unknown_customer as missing history."""
    raw = pd.DataFrame([SMOKE["zero_income"].inputs, SMOKE["unknown_customer"].inputs])
    derived = application_features(raw)
    assert derived.loc[0, "income_missing"] == 1.0
    assert derived.loc[1, "income_missing"] == 0.0
    assert all(math.isnan(SMOKE["unknown_customer"].inputs[name]) for name in HISTORY_FEATURES)
    assert math.isnan(derived.loc[1, "debt_to_income"])
    assert USE_CASE.smoke_ordering == ("low_risk", "typical", "high_risk")
