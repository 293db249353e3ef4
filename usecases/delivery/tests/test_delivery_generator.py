"""The generator is seeded (same seed, same bytes), labels arrive after their orders, the smoke cases agree
with the truth, and each drift scenario changes only what it names, only from drift_start on."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from steelthread_usecase_delivery import USE_CASE
from steelthread_usecase_delivery.domain import NEW_VEHICLE, RUSH_HOURS, VEHICLES
from steelthread_usecase_delivery.generator import (
    SCENARIO_COLUMNS,
    TABLES,
    GeneratedData,
    Scenario,
    generate,
    read,
    true_minutes,
    write,
)

ROWS = 3_000


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def baseline() -> GeneratedData:
    return generate(ROWS, seed=5)


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    write(generate(ROWS, seed=5), tmp_path / "a")
    write(generate(ROWS, seed=5), tmp_path / "b")
    write(generate(ROWS, seed=6), tmp_path / "c")
    a, b, c = _hashes(tmp_path / "a"), _hashes(tmp_path / "b"), _hashes(tmp_path / "c")
    assert a == b
    assert len(a) == len(TABLES) + 1  # the tables and the manifest
    assert all(a[f"{t}.parquet"] != c[f"{t}.parquet"] for t in TABLES)


def test_written_tables_read_back_unchanged(tmp_path: Path, baseline: GeneratedData) -> None:
    write(baseline, tmp_path)
    for name in TABLES:
        back = read(tmp_path, name)
        pd.testing.assert_frame_equal(back, baseline.table(name), check_dtype=False)
    with pytest.raises(ValueError, match="unknown table"):
        read(tmp_path, "customers")


def test_labels_arrive_after_their_orders_and_lie_in_the_score_range(baseline: GeneratedData) -> None:
    orders = baseline.orders.set_index("request_id")
    deliveries = baseline.deliveries.set_index("request_id").loc[orders.index]
    assert (deliveries["delivered_timestamp"] > orders["order_timestamp"]).all()
    minutes = deliveries["delivered_minutes"]
    low, high = USE_CASE.score_range
    assert minutes.between(low, high).all()
    assert 30 < minutes.mean() < 50, "the promise cuts (45, 60) sit in the upper part of the distribution"
    assert orders["order_timestamp"].is_monotonic_increasing
    assert orders["order_timestamp"].between(baseline.start, baseline.end, inclusive="left").all()
    assert set(orders["vehicle"]) == set(VEHICLES) - {NEW_VEHICLE}


def test_every_order_has_statistics_within_their_ttl(baseline: GeneratedData) -> None:
    stats = baseline.restaurant_stats.sort_values("event_timestamp")
    orders = baseline.orders.sort_values("order_timestamp")
    joined = pd.merge_asof(
        orders,
        stats[["restaurant_id", "event_timestamp"]],
        left_on="order_timestamp",
        right_on="event_timestamp",
        by="restaurant_id",
    )
    age = joined["order_timestamp"] - joined["event_timestamp"]
    assert age.notna().all()
    assert (age <= pd.Timedelta(USE_CASE.view("restaurant_performance").ttl)).all()


def test_generator_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate(0)
    with pytest.raises(ValueError, match="timezone-aware"):
        generate(10, end=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="is not a valid Scenario"):
        generate(10, scenario="meteor")
    assert len(generate(1, end=datetime(2026, 1, 1, tzinfo=UTC)).orders) == 1


def test_smoke_cases_hold_under_the_generators_truth() -> None:
    """The declared bounds and ordering are what the truth itself gives (so a good model can meet them)."""
    truth = {}
    for case in USE_CASE.smoke_cases:
        x = case.inputs
        if x["cuisine"] is None:
            continue
        truth[case.name] = float(
            true_minutes(
                prep=np.array([x["prep_minutes_p50"]], dtype=float),
                items=np.array([x["item_count"]], dtype=float),
                orders_per_day=np.array([x["orders_per_day_7d"]], dtype=float),
                staff=np.array([x["kitchen_staff"]], dtype=float),
                courier_wait=np.array([x["courier_wait_minutes_7d"]], dtype=float),
                distance=np.array([x["distance_km"]], dtype=float),
                vehicle_idx=np.array([VEHICLES.index(str(x["vehicle"]))]),
                rush=np.array([float(x["order_hour"] in RUSH_HOURS)]),
                basket=np.array([x["basket_value"]], dtype=float),
            )[0]
        )
        low, high = case.bounds
        assert low < truth[case.name] < high, (case.name, truth[case.name])
    print({name: round(minutes, 1) for name, minutes in truth.items()})
    ordered = [truth[name] for name in USE_CASE.smoke_ordering]
    assert ordered == sorted(ordered)
    cuts = USE_CASE.policy.cuts
    assert cuts is not None
    assert truth["quick"] < cuts.review, "a quick order is promised"
    assert truth["slow"] >= cuts.decline, "a slow order is not"


def _changed(base: pd.DataFrame, drifted: pd.DataFrame) -> pd.DataFrame:
    """Cell by cell: True where a value differs (NaN equals NaN)."""
    assert list(base.columns) == list(drifted.columns)
    assert len(base) == len(drifted)
    out = {}
    for column in base.columns:
        a, b = base[column], drifted[column]
        out[column] = ~((a == b) | (a.isna() & b.isna())).to_numpy()
    return pd.DataFrame(out)


_TIME = {"orders": "order_timestamp", "restaurant_stats": "event_timestamp", "deliveries": None}


@pytest.mark.parametrize("scenario", list(Scenario))
def test_a_scenario_changes_only_what_it_names_and_only_after_drift_start(
    scenario: Scenario, baseline: GeneratedData
) -> None:
    drifted = generate(ROWS, seed=5, scenario=scenario)
    assert drifted.scenario is scenario
    assert drifted.drift_start == baseline.drift_start
    allowed = SCENARIO_COLUMNS[scenario]
    for name in TABLES:
        changed = _changed(baseline.table(name), drifted.table(name))
        columns = {c for c in changed.columns if changed[c].any()}
        assert columns <= set(allowed.get(name, ())), (name, columns)
        if name in allowed:
            assert columns, f"{scenario} changed nothing in {name}"
            times = (
                baseline.orders["order_timestamp"]  # deliveries are in order order
                if _TIME[name] is None
                else baseline.table(name)[_TIME[name]]
            )
            rows = changed.any(axis=1).to_numpy()
            assert (times[rows] >= baseline.drift_start).all(), (
                f"{scenario} changed {name} before drift_start"
            )
