"""Skew: the online vector after materialising up to time T equals the training frame at T, exactly."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from steelthread_contracts import PredictionRequest
from steelthread_features import store
from steelthread_features.definitions import FEATURE_NAMES
from steelthread_usecase_credit.domain import HISTORY_FEATURES


@pytest.fixture(scope="module")
def materialized(world):
    at = world.data.end - timedelta(hours=1)
    store.materialize(at, settings=world.settings)
    return at


def requests_at(world, n: int) -> pd.DataFrame:
    customers = world.customers["customer_id"].drop_duplicates().sample(n=n, random_state=5)
    rng = np.random.default_rng(5)
    purposes = ["car", "business", "medical", "other", "debt_consolidation", "education"]
    return pd.DataFrame(
        {
            "customer_id": customers.to_numpy(dtype=np.int64),
            "loan_amount": rng.integers(5, 500, n) * 100.0,
            "term_months": rng.choice([12, 24, 36, 48, 60], n),
            "purpose": rng.choice(purposes, n),
            "declared_income": np.where(rng.random(n) < 0.2, 0.0, rng.integers(100, 2000, n) * 100.0),
        }
    )


@pytest.mark.parametrize("engine", ["direct", "feast", "feast_odfv"])
def test_online_vector_equals_training_frame_at_t(world, materialized, engine) -> None:
    at = materialized
    requests = requests_at(world, 60)
    entities = requests.assign(event_timestamp=pd.Timestamp(at))
    offline = store.training_frame(entities, settings=world.settings)
    online = store.online_vector(
        [PredictionRequest(**row) for row in requests.to_dict("records")],
        settings=world.settings,
        as_of=at,
        engine=engine,
    )
    assert len(online) == len(offline)
    present = 0
    for i, vector in enumerate(online):
        assert list(vector.values) == list(FEATURE_NAMES)
        for name in FEATURE_NAMES:
            off = offline.at[i, name]
            on = vector.values[name]
            if np.isnan(off):
                assert on is None, f"row {i} {name}: offline missing, online {on}"
                assert name in vector.missing
            else:
                assert on == off, f"row {i} {name}: offline {off!r} != online {on!r}"
                present += 1
        assert np.array_equal(
            vector.as_array(),
            offline.loc[i, list(FEATURE_NAMES)].to_numpy(np.float32),
            equal_nan=True,
        )
    # Most values are present, so equality is not just None == NaN.
    assert present > 0.9 * len(online) * len(FEATURE_NAMES)


def test_unknown_customer_is_explicitly_missing(world, materialized) -> None:
    [vector] = store.online_vector(
        [
            {
                "customer_id": 987_654_321,
                "loan_amount": 1_000.0,
                "term_months": 12,
                "purpose": "car",
                "declared_income": 0.0,
            }
        ],
        settings=world.settings,
        as_of=materialized,
    )
    assert vector.values["age"] is None
    assert vector.values["total_balance"] is None
    assert vector.values["debt_to_income"] is None
    assert vector.values["home_ownership_rent"] is None
    assert vector.values["requested_amount"] == 1_000.0
    assert vector.values["income_missing"] == 1.0
    assert vector.values["loan_to_income"] == 1.0
    assert "age" in vector.missing
    assert "requested_amount" not in vector.missing
    assert np.isnan(vector.as_array()[list(FEATURE_NAMES).index("age")])


def test_expired_online_values_are_missing(world, materialized) -> None:
    customer = int(world.data.applications["customer_id"].iloc[0])
    request = {
        "customer_id": customer,
        "loan_amount": 2_000.0,
        "term_months": 24,
        "purpose": "car",
        "declared_income": 30_000.0,
    }
    [fresh] = store.online_vector([request], settings=world.settings, as_of=materialized)
    assert fresh.values["total_balance"] is not None
    [stale] = store.online_vector(
        [request], settings=world.settings, as_of=materialized + timedelta(days=200)
    )
    assert set(HISTORY_FEATURES) <= set(stale.missing)
    assert "debt_to_income" in stale.missing
    assert stale.values["age"] == fresh.values["age"]


def test_slice_attributes_are_served_separately(world, materialized) -> None:
    customer = int(world.customers["customer_id"].iloc[0])
    frame = store.slice_attributes([customer], settings=world.settings)
    row = world.customers.set_index("customer_id").loc[customer]
    assert frame.loc[0, "region"] == row["region"]
    assert frame.loc[0, "protected_group"] == row["protected_group"]
    assert "region" not in FEATURE_NAMES
