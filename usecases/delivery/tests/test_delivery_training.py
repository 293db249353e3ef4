"""The delivery example's training values, whatever use case the process runs (the mirror of
usecases/credit/tests/test_credit_training.py): the registered name, slices without a derived hook, and the
unknown-restaurant smoke case as the transform sees it. The plumbing that reads them is tested use case
neutrally in tests/training."""

from __future__ import annotations

import math

import pandas as pd
import yaml

from steelthread_usecase_delivery import USE_CASE
from steelthread_usecase_delivery.domain import CUISINES, STATS_FEATURES
from steelthread_usecase_delivery.transforms import order_features

CONFIG = yaml.safe_load(USE_CASE.training_config.read_text(encoding="utf-8"))
SMOKE = {case.name: case for case in USE_CASE.smoke_cases}


def test_the_registered_name_is_delivery_minutes() -> None:
    assert CONFIG["registry"]["model_name"] == "delivery-minutes"


def test_slices_are_declared_columns_with_no_derived_hook_and_no_options() -> None:
    assert USE_CASE.derived_slices is None
    assert "options" not in CONFIG["slices"]  # training refuses options without a hook
    assert set(USE_CASE.slices) <= {*USE_CASE.stored_slices, *USE_CASE.request_names}


def test_the_unknown_restaurant_smoke_case_reaches_the_model_as_missing_restaurant_data() -> None:
    unknown = SMOKE["unknown_restaurant"].inputs
    assert all(math.isnan(unknown[name]) for name in STATS_FEATURES)
    derived = order_features(pd.DataFrame([unknown]))
    assert math.isnan(derived.loc[0, "prep_plus_ride"])
    assert all(math.isnan(derived.loc[0, f"cuisine_{c}"]) for c in CUISINES)
    assert math.isfinite(derived.loc[0, "ride_minutes"])  # the request alone still gives the ride
    assert USE_CASE.smoke_ordering == ("quick", "typical", "slow")
