"""Point-in-time correctness of training_frame against an independent pandas merge_asof reference.

The reference is written over the active use case's declaration (views, TTLs, the transform's frame
form); the hard cases (conftest.hard_cases) are credit data, so their expected values name credit columns.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from steelthread_contracts.usecase import load_hook
from steelthread_features import store
from steelthread_features.definitions import (
    APPLICATION_FEATURES,
    EVENT_TIMESTAMP,
    FEATURE_NAMES,
    JOIN_KEY,
    SLICE_COLUMNS,
    USE_CASE,
)

TRANSFORM = load_hook(USE_CASE.on_demand.frame)


def asof_reference(
    entities: pd.DataFrame, table: pd.DataFrame, columns: list[str], ttl: timedelta
) -> pd.DataFrame:
    """Latest row at or before each entity time (ties: latest created), nulled past the TTL."""
    left = entities[[JOIN_KEY, EVENT_TIMESTAMP]].copy()
    left["rid"] = np.arange(len(left))
    left = left.sort_values(EVENT_TIMESTAMP, kind="stable")
    right = table.sort_values([EVENT_TIMESTAMP, USE_CASE.tables.created_timestamp], kind="stable").rename(
        columns={EVENT_TIMESTAMP: "feature_ts"}
    )[[JOIN_KEY, "feature_ts", *columns]]
    merged = pd.merge_asof(
        left,
        right,
        left_on=EVENT_TIMESTAMP,
        right_on="feature_ts",
        by=JOIN_KEY,
        direction="backward",
        allow_exact_matches=True,
    )
    stale = merged["feature_ts"].isna() | (merged[EVENT_TIMESTAMP] - merged["feature_ts"] > ttl)
    merged.loc[stale, columns] = None
    return merged.sort_values("rid").reset_index(drop=True)[columns]


def reference_frame(world, entities: pd.DataFrame) -> pd.DataFrame:
    stored = [
        asof_reference(entities, world.stored(view.table), list(view.columns), view.ttl)
        for view in USE_CASE.views
    ]
    inputs = pd.concat([entities.reset_index(drop=True), *stored], axis=1)
    return pd.concat([inputs, TRANSFORM(inputs)], axis=1)


@pytest.fixture(scope="module")
def hard_frame(world) -> pd.DataFrame:
    return store.training_frame(world.hard_entities, settings=world.settings)


def entities_for(world, n: int) -> pd.DataFrame:
    events = world.data.table(USE_CASE.tables.events).sample(n=n, random_state=3).reset_index(drop=True)
    generated = events.rename(columns={USE_CASE.tables.event_time: EVENT_TIMESTAMP})
    return pd.concat([world.hard_entities, generated], ignore_index=True)


def test_training_frame_matches_merge_asof_reference(world) -> None:
    entities = entities_for(world, 400)
    got = store.training_frame(entities, settings=world.settings, with_slices=True)
    want = reference_frame(world, entities)

    assert len(got) == len(entities)
    assert list(got.columns) == [*entities.columns, *FEATURE_NAMES, *SLICE_COLUMNS]
    core = [JOIN_KEY, EVENT_TIMESTAMP, *USE_CASE.request_names]
    pd.testing.assert_frame_equal(
        got[core],
        entities[core].astype(
            {EVENT_TIMESTAMP: "datetime64[us, UTC]"}
            | {f.name: f.storage.replace("string", "object") for f in USE_CASE.request_fields}
        ),
    )
    request_id = USE_CASE.tables.request_id
    assert got[request_id].fillna("").tolist() == entities[request_id].fillna("").tolist()
    for name in FEATURE_NAMES:
        assert np.array_equal(
            got[name].to_numpy(dtype=float), want[name].to_numpy(dtype=float), equal_nan=True
        ), f"feature {name} differs from the merge_asof reference"
    for name in SLICE_COLUMNS:
        assert got[name].tolist() == [None if pd.isna(v) else v for v in want[name]]
    # The generated part of the sample is mostly populated: the test is not vacuous.
    generated = got.iloc[len(world.hard_entities) :]
    for view in USE_CASE.views:
        assert generated[list(view.served)].notna().to_numpy().mean() > 0.9, view.name


@pytest.mark.parametrize(
    "case",
    [
        "after_only",
        "expired",
        "tie",
        "no_history",
        "nothing",
        "leak",
        "exact",
        "ttl_edge",
        "profile_after",
        "just_expired",
    ],
)
def test_hard_case_values(world, hard_frame, case: str) -> None:
    got = hard_frame
    row = got[got["case"] == case].iloc[0]
    expected = world.expected[case]
    if expected is None:
        assert np.isnan(row["total_balance"]), f"{case}: expected missing, got {row['total_balance']}"
        assert np.isnan(row["debt_to_income"])
    else:
        assert row["total_balance"] == expected
        assert row["debt_to_income"] == (expected + 5_000.0) / 40_000.0


def test_duplicate_and_later_entity_rows_keep_order(world, hard_frame) -> None:
    got = hard_frame
    assert got["case"].tolist() == world.hard_entities["case"].tolist()
    tie_rows = got[got["case"] == "tie"]
    assert tie_rows["total_balance"].tolist() == [32.0, 32.0]
    leak_rows = got[got["case"] == "leak"]
    # At E the leaking row is invisible; two days later it is the latest value.
    assert leak_rows["total_balance"].tolist() == [60.0, 999.0]


def test_missing_profile_keeps_request_features_and_nan_one_hots(world, hard_frame) -> None:
    got = hard_frame
    nothing = got[got["case"] == "nothing"].iloc[0]
    assert np.isnan(nothing["age"])
    assert np.isnan(nothing["home_ownership_rent"])
    assert nothing["requested_amount"] == 5_000.0
    assert nothing["income_missing"] == 1.0
    assert nothing["purpose_car"] == 1.0
    profile_after = got[got["case"] == "profile_after"].iloc[0]
    assert np.isnan(profile_after["age"])
    assert np.isnan(profile_after["home_ownership_mortgage"])


def test_application_features_are_float_and_in_service_order(world, hard_frame) -> None:
    got = hard_frame
    assert list(got.columns[-len(FEATURE_NAMES) :]) == list(FEATURE_NAMES)
    assert all(got[name].dtype == np.float64 for name in FEATURE_NAMES)
    assert list(FEATURE_NAMES[-len(APPLICATION_FEATURES) :]) == list(APPLICATION_FEATURES)


def test_features_argument_selects_columns(world) -> None:
    wanted = [APPLICATION_FEATURES[-1], FEATURE_NAMES[0]]
    got = store.training_frame(world.hard_entities, settings=world.settings, features=wanted)
    assert list(got.columns) == [*world.hard_entities.columns, *wanted]


@pytest.mark.parametrize("damage", ["drop", "duplicate", "duplicate_instead_of_last"])
def test_dropped_or_duplicated_rows_raise(world, monkeypatch, damage: str) -> None:
    """Feast's file store once returned fewer rows silently; the guard must turn that into an error."""
    feast_store = store.get_store(world.settings)
    real = feast_store.get_historical_features

    class Damaged:
        def __init__(self, job) -> None:
            self.job = job

        def to_df(self) -> pd.DataFrame:
            frame = self.job.to_df()
            if damage == "drop":
                return frame.iloc[1:]
            if damage == "duplicate":
                return pd.concat([frame, frame.iloc[[0]]], ignore_index=True)
            # Same length: one row twice, another row gone.
            return pd.concat([frame.iloc[:-1], frame.iloc[[0]]], ignore_index=True)

    monkeypatch.setattr(feast_store, "get_historical_features", lambda **kw: Damaged(real(**kw)))
    with pytest.raises(store.FeatureRetrievalError, match="entity rows"):
        store.training_frame(world.hard_entities, settings=world.settings)
