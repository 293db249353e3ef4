"""Point-in-time correctness of training_frame against an independent pandas merge_asof reference.

The reference is written over the active use case's declaration (views, TTLs, the transform's frame
form); the hard cases (conftest.hard_cases) are rows of the active use case's own tables, and the request-time
features they must get come from its transform's row form (the online path) applied to the stored values
each case should see.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from helpers.pit_cases import CASES, HISTORY, HISTORY_FEATURE, NO_PROFILE, PROFILES
from steelthread_contracts.usecase import load_hook
from steelthread_features import store
from steelthread_features.definitions import (
    APPLICATION_FEATURES,
    EVENT_TIMESTAMP,
    FEATURE_NAMES,
    JOIN_KEY,
    REQUEST_FIELDS,
    SLICE_COLUMNS,
    USE_CASE,
)

REQUEST_NAMES = REQUEST_FIELDS

TRANSFORM = load_hook(USE_CASE.on_demand.frame)
ROW = load_hook(USE_CASE.on_demand.row)


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


def _same(got: object, want: object) -> bool:
    """Equal, or both missing (NaN in the frame, None or NaN expected)."""
    if want is None or (isinstance(want, float) and np.isnan(want)):
        return bool(pd.isna(got))
    return bool(got == want)


def expected_features(world, row: pd.Series, case: str) -> dict[str, object]:
    """Every model feature the case's row must hold: the stored values it should see, and the transform's
    row form over its request and those stored inputs."""
    stored = world.stored_at_e(case)
    request = {name: row[name].item() if hasattr(row[name], "item") else row[name] for name in REQUEST_NAMES}
    inputs = {name: stored[name] for name in USE_CASE.on_demand.stored_inputs}
    on_demand = dict(zip(USE_CASE.on_demand.features, ROW(**request, **inputs), strict=True))
    served = {name: stored[name] for view in USE_CASE.views for name in view.served}
    return served | on_demand


@pytest.mark.parametrize("case", CASES)
def test_hard_case_values(world, hard_frame, case: str) -> None:
    row = hard_frame[hard_frame["case"] == case].iloc[0]
    expected = world.expected[case]
    if expected is None:
        assert np.isnan(row[HISTORY_FEATURE]), f"{case}: expected missing, got {row[HISTORY_FEATURE]}"
    else:
        assert row[HISTORY_FEATURE] == expected
    for name, want in expected_features(world, row, case).items():
        assert _same(row[name], want), f"{case}: {name} is {row[name]!r}, expected {want!r}"


def test_features_that_need_the_history_are_missing_exactly_when_it_is(world, hard_frame) -> None:
    """A request-time feature computed from an expired or absent history value is missing, not a number
    made of a missing input (what the freshness map declares)."""
    needs_history = [f for f, view in USE_CASE.freshness.items() if view == HISTORY.name]
    assert needs_history
    for case in CASES:
        row = hard_frame[hard_frame["case"] == case].iloc[0]
        for name in needs_history:
            assert pd.isna(row[name]) is (world.expected[case] is None), (case, name)


def test_duplicate_and_later_entity_rows_keep_order(world, hard_frame) -> None:
    got = hard_frame
    assert got["case"].tolist() == world.hard_entities["case"].tolist()
    tie_rows = got[got["case"] == "tie"]
    assert tie_rows[HISTORY_FEATURE].tolist() == [32.0, 32.0]
    leak_rows = got[got["case"] == "leak"]
    # At E the leaking row is invisible; two days later it is the latest value.
    assert leak_rows[HISTORY_FEATURE].tolist() == [60.0, 999.0]


def test_missing_profile_keeps_request_features_and_nan_profile_features(world, hard_frame) -> None:
    """No profile row at or before E (none at all, or only a later one): every profile feature and every
    request-time feature that needs the profile is missing; the request-only ones are still computed."""
    needs_profile = [f for f, view in USE_CASE.freshness.items() if view in {p.name for p in PROFILES}]
    needs_stored = set(USE_CASE.freshness)
    request_only = [f for f in USE_CASE.on_demand.features if f not in needs_stored]
    assert needs_profile
    assert request_only
    for case in sorted(NO_PROFILE):
        row = hard_frame[hard_frame["case"] == case].iloc[0]
        for name in needs_profile:
            assert np.isnan(row[name]), (case, name)
        for name in request_only:
            assert np.isfinite(row[name]), (case, name)
    present = hard_frame[hard_frame["case"] == "exact"].iloc[0]
    assert all(np.isfinite(present[name]) for name in needs_profile)


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
