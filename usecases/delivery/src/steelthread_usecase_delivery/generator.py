"""Deterministic synthetic data for the delivery-time use case.

Restaurants (a profile that rarely changes), weekly restaurant statistics, orders placed at checkout, and
deliveries observed when the courier hands the food over (the label, in minutes, which therefore arrives
after its order). The same seed gives byte-identical parquet files. Drift scenarios are applied on top of
the finished baseline with their own random stream and touch only the columns they name, and only from
`drift_start` on.

The truth is meant to need a model: preparation saturates with the basket size, a kitchen queues only past
a load threshold and only at rush hour, courier waits grow at rush hour, a car crawls at rush hour while a
bike does not, and a bike slows past a few kilometres. A linear model on every feature misses most of this
(usecases/delivery/tests/test_delivery_models.py and bench/bench_model_margin.py measure it against LightGBM).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa

from steelthread_contracts import tables
from steelthread_contracts.tables import micros, utc_series
from steelthread_usecase_delivery.domain import (
    CITIES,
    CITY_ZONES,
    CREATED_TIMESTAMP,
    CUISINES,
    EVENT_TIMESTAMP,
    JOIN_KEY,
    MAX_MINUTES,
    NEW_VEHICLE,
    RUSH_HOURS,
    VEHICLES,
)

DEFAULT_END: Final = datetime(2026, 10, 1, tzinfo=UTC)
DEFAULT_DAYS: Final = 365
STATS_EVERY_DAYS: Final = 7
"""Restaurant statistics are recomputed weekly (with up to a day of jitter); their view's TTL is 21 days."""
ORDERS_PER_RESTAURANT: Final = 40
DRIFT_FRACTION: Final = 0.25
"""Scenarios change only the last quarter of the time window."""

US = pa.timestamp("us", tz="UTC")
TABLES: Final = ("restaurants", "restaurant_stats", "orders", "deliveries")

SCHEMAS: Final[dict[str, pa.Schema]] = {
    "restaurants": pa.schema(
        [
            (JOIN_KEY, pa.int64()),
            (EVENT_TIMESTAMP, US),
            (CREATED_TIMESTAMP, US),
            ("prep_minutes_p50", pa.float64()),
            ("prep_minutes_p90", pa.float64()),
            ("kitchen_staff", pa.float64()),
            ("cuisine", pa.string()),
            ("city", pa.string()),
            ("city_zone", pa.string()),
        ]
    ),
    "restaurant_stats": pa.schema(
        [
            (JOIN_KEY, pa.int64()),
            (EVENT_TIMESTAMP, US),
            (CREATED_TIMESTAMP, US),
            ("orders_per_day_7d", pa.float64()),
            ("courier_wait_minutes_7d", pa.float64()),
            ("late_share_7d", pa.float64()),
        ]
    ),
    "orders": pa.schema(
        [
            ("request_id", pa.string()),
            (JOIN_KEY, pa.int64()),
            ("order_timestamp", US),
            ("basket_value", pa.float64()),
            ("item_count", pa.int64()),
            ("distance_km", pa.float64()),
            ("vehicle", pa.string()),
            ("order_hour", pa.int64()),
        ]
    ),
    "deliveries": pa.schema(
        [
            ("request_id", pa.string()),
            ("delivered_minutes", pa.float64()),
            ("delivered_timestamp", US),
        ]
    ),
}


class Scenario(StrEnum):
    DISTANCE_SHIFT = "distance_shift"
    NEW_VEHICLE = "new_vehicle"
    COURIER_SHORTAGE = "courier_shortage"
    MISSING_VALUES = "missing_values"
    LABEL_SHIFT = "label_shift"


SCENARIO_COLUMNS: Final[dict[Scenario, dict[str, tuple[str, ...]]]] = {
    Scenario.DISTANCE_SHIFT: {"orders": ("distance_km",)},
    Scenario.NEW_VEHICLE: {"orders": ("vehicle",)},
    Scenario.COURIER_SHORTAGE: {"restaurant_stats": ("courier_wait_minutes_7d",)},
    Scenario.MISSING_VALUES: {"restaurant_stats": ("courier_wait_minutes_7d", "late_share_7d")},
    Scenario.LABEL_SHIFT: {"deliveries": ("delivered_minutes", "delivered_timestamp")},
}
"""What each scenario is allowed to change: table -> columns (tested)."""

_HOUR_WEIGHTS = np.array(
    [1, 0.5, 0.2, 0.1, 0.1, 0.2, 0.5, 1, 2, 2, 3, 8, 10, 7, 3, 2, 3, 6, 10, 11, 8, 5, 3, 2], dtype=np.float64
)
"""Orders per local hour of day (lunch and dinner peaks)."""
_CUISINE_PREP = np.array([14.0, 10.0, 18.0, 8.0, 16.0, 6.0])
"""Typical preparation minutes per cuisine, in CUISINES order."""
_TRUE_KMH = np.array([15.0, 19.0, 25.0, 32.0])
"""Real speeds per vehicle in VEHICLES order, off-peak."""
_RUSH_KMH = np.array([15.0, 19.0, 20.0, 14.0])
"""Real speeds at rush hour: two wheels barely notice, a car crawls."""


@dataclass(frozen=True)
class GeneratedData:
    """The four tables as pandas frames (timestamps are datetime64[us, UTC])."""

    restaurants: pd.DataFrame
    restaurant_stats: pd.DataFrame
    orders: pd.DataFrame
    deliveries: pd.DataFrame
    seed: int
    scenario: Scenario | None
    start: datetime
    end: datetime
    drift_start: datetime
    extra: dict[str, str] = field(default_factory=dict)

    def table(self, name: str) -> pd.DataFrame:
        frame: pd.DataFrame = getattr(self, name)
        return frame


def _round(x: np.ndarray, step: float) -> np.ndarray:
    return np.asarray(np.round(x / step) * step)


def true_minutes(
    *,
    prep: np.ndarray,
    items: np.ndarray,
    orders_per_day: np.ndarray,
    staff: np.ndarray,
    courier_wait: np.ndarray,
    distance: np.ndarray,
    vehicle_idx: np.ndarray,
    rush: np.ndarray,
    basket: np.ndarray,
) -> np.ndarray:
    """Expected delivery minutes before noise: the generator's truth, in one place.

    Preparation grows with the basket and saturates; a kitchen queues only at rush hour and only past a
    load per staff member (capped); courier waits grow at rush hour; the ride depends on vehicle and rush
    hour together; a bike slows on long trips; a large basket takes longer to hand over.
    """
    prep_time = prep * (1.0 + 0.6 * (1.0 - np.exp(-(items - 1.0) / 3.0)))
    load = orders_per_day / (staff * 12.0)
    queue = rush * np.minimum(12.0 * np.maximum(load - 0.8, 0.0), 20.0)
    wait = courier_wait * (1.0 + 0.9 * rush)
    kmh = np.where(rush > 0, _RUSH_KMH[vehicle_idx], _TRUE_KMH[vehicle_idx])
    ride = distance / kmh * 60.0
    fatigue = np.where(vehicle_idx == 0, 2.5 * np.maximum(distance - 4.0, 0.0), 0.0)
    handover = 3.0 + 2.0 * (basket > 80.0)
    return np.asarray(prep_time + queue + wait + ride + fatigue + handover)


def generate(
    rows: int,
    seed: int = 0,
    scenario: Scenario | str | None = None,
    *,
    end: datetime = DEFAULT_END,
    days: int = DEFAULT_DAYS,
) -> GeneratedData:
    """Generate `rows` orders with their restaurants, weekly statistics and later deliveries."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    if end.tzinfo is None:
        raise ValueError("end must be timezone-aware")
    scen = Scenario(scenario) if scenario is not None else None
    rng = np.random.default_rng(seed)
    start = end - timedelta(days=days)
    start_us, end_us = micros(start), micros(end)
    day_us = 86_400 * 1_000_000
    hour_us = 3_600 * 1_000_000

    # Restaurants: cuisine and a kitchen speed drive preparation; city and zone are slices only.
    n_rest = max(1, rows // ORDERS_PER_RESTAURANT)
    cuisine_idx = rng.choice(len(CUISINES), n_rest, p=[0.25, 0.2, 0.12, 0.13, 0.18, 0.12])
    prep_true = _CUISINE_PREP[cuisine_idx] * np.exp(rng.normal(0.0, 0.25, n_rest))
    prep_p50 = _round(prep_true * np.exp(rng.normal(0.0, 0.05, n_rest)), 0.1)
    prep_p90 = _round(prep_p50 * rng.uniform(1.3, 1.7, n_rest), 0.1)
    staff = rng.integers(2, 9, n_rest).astype(np.float64)
    city_idx = rng.choice(len(CITIES), n_rest, p=[0.4, 0.25, 0.2, 0.15])
    zone_idx = rng.choice(len(CITY_ZONES), n_rest, p=[0.3, 0.45, 0.25])
    demand = np.exp(rng.normal(np.log(40.0), 0.5, n_rest))
    wait_base = rng.gamma(3.0, 1.5, n_rest)
    opened = start_us - rng.integers(30 * day_us, 3 * 365 * day_us, n_rest)
    restaurants = pd.DataFrame(
        {
            JOIN_KEY: np.arange(1, n_rest + 1, dtype=np.int64),
            EVENT_TIMESTAMP: utc_series(opened),
            CREATED_TIMESTAMP: utc_series(opened + hour_us),
            "prep_minutes_p50": prep_p50,
            "prep_minutes_p90": prep_p90,
            "kitchen_staff": staff,
            "cuisine": np.asarray(CUISINES, dtype=object)[cuisine_idx],
            "city": np.asarray(CITIES, dtype=object)[city_idx],
            "city_zone": np.asarray(CITY_ZONES, dtype=object)[zone_idx],
        }
    )

    # Weekly statistics from four weeks before the window to its end; demand and courier waits wander.
    first = start_us - 28 * day_us
    k = (end_us - first) // (STATS_EVERY_DAYS * day_us) + 1
    phase = rng.integers(0, STATS_EVERY_DAYS * day_us, n_rest)
    jitter = rng.integers(-day_us, day_us, (n_rest, k))
    s_time = first + phase[:, None] + np.arange(k)[None, :] * STATS_EVERY_DAYS * day_us + jitter
    demand_walk = demand[:, None] * np.exp(np.cumsum(rng.normal(0.0, 0.05, (n_rest, k)), axis=1))
    wait_walk = wait_base[:, None] * np.exp(np.cumsum(rng.normal(0.0, 0.06, (n_rest, k)), axis=1))
    s_rest = np.repeat(np.arange(n_rest), k)
    s_time = s_time.reshape(-1)
    orders_per_day = _round(demand_walk.reshape(-1), 0.1)
    courier_wait = _round(wait_walk.reshape(-1), 0.1)
    keep = s_time < end_us
    s_rest, s_time, orders_per_day, courier_wait = (
        s_rest[keep],
        s_time[keep],
        orders_per_day[keep],
        courier_wait[keep],
    )
    n_stats = len(s_rest)
    late_logit = -2.2 + 0.25 * (courier_wait - 4.5) + 0.8 * (orders_per_day / (staff[s_rest] * 12.0) - 0.8)
    late_share = np.round(1.0 / (1.0 + np.exp(-(late_logit + rng.normal(0.0, 0.3, n_stats)))), 3)
    restaurant_stats = pd.DataFrame(
        {
            JOIN_KEY: (s_rest + 1).astype(np.int64),
            EVENT_TIMESTAMP: utc_series(s_time),
            CREATED_TIMESTAMP: utc_series(s_time + rng.integers(0, 2 * hour_us, n_stats)),
            "orders_per_day_7d": orders_per_day,
            "courier_wait_minutes_7d": courier_wait,
            "late_share_7d": late_share,
        }
    )

    # Orders: a day, an hour from the daily curve, a basket, a distance and the vehicle dispatch picks.
    o_rest = rng.integers(0, n_rest, rows)
    o_day = rng.integers(0, days, rows)
    o_hour = rng.choice(24, rows, p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum()).astype(np.int64)
    o_time = start_us + o_day * day_us + o_hour * hour_us + rng.integers(0, hour_us, rows)
    order = np.argsort(o_time, kind="stable")
    o_rest, o_hour, o_time = o_rest[order], o_hour[order], o_time[order]
    items = np.clip(1 + rng.poisson(2.0, rows), 1, 30).astype(np.int64)
    basket = _round(items * np.exp(rng.normal(np.log(11.0), 0.3, rows)), 0.01)
    distance = np.clip(_round(rng.gamma(2.0, 1.6, rows), 0.01), 0.2, 25.0)
    base_vehicles = [v for v in VEHICLES if v != NEW_VEHICLE]
    base_idx = np.array([VEHICLES.index(v) for v in base_vehicles])
    p_car = np.clip((distance - 2.0) / 10.0, 0.02, 0.7)
    p_bike = np.clip(0.7 - distance / 8.0, 0.05, 0.7)
    u = rng.random(rows)
    pick = np.where(u < p_car, 2, np.where(u < p_car + p_bike, 0, 1))  # positions in base_vehicles
    vehicle_idx = base_idx[pick]
    orders = pd.DataFrame(
        {
            "request_id": [f"ord-{i:09d}" for i in range(rows)],
            JOIN_KEY: (o_rest + 1).astype(np.int64),
            "order_timestamp": utc_series(o_time),
            "basket_value": basket,
            "item_count": items,
            "distance_km": distance,
            "vehicle": np.asarray(VEHICLES, dtype=object)[vehicle_idx],
            "order_hour": o_hour,
        }
    )

    # Deliveries: the truth at the restaurant's state when the order came in (its latest statistics),
    # with multiplicative and additive noise; observed at handover, so after the order.
    key_span = end_us - first + 2 * day_us
    stats_key = s_rest * key_span + (s_time - first + day_us)
    latest = np.searchsorted(stats_key, o_rest * key_span + (o_time - first + day_us), side="right") - 1
    minutes = true_minutes(
        prep=prep_true[o_rest],
        items=items.astype(np.float64),
        orders_per_day=demand_walk.reshape(-1)[keep][latest],
        staff=staff[o_rest],
        courier_wait=wait_walk.reshape(-1)[keep][latest],
        distance=distance,
        vehicle_idx=vehicle_idx,
        rush=np.isin(o_hour, sorted(RUSH_HOURS)).astype(np.float64),
        basket=basket,
    )
    noisy = minutes * np.exp(rng.normal(0.0, 0.08, rows)) + rng.normal(0.0, 1.5, rows)
    delivered = np.clip(np.round(noisy, 1), 5.0, MAX_MINUTES)
    deliveries = pd.DataFrame(
        {
            "request_id": orders["request_id"],
            "delivered_minutes": delivered,
            "delivered_timestamp": utc_series(o_time + np.round(delivered * 60e6).astype(np.int64)),
        }
    )

    drift_start_us = start_us + int((end_us - start_us) * (1 - DRIFT_FRACTION))
    drift_start = start + timedelta(microseconds=drift_start_us - start_us)
    if scen is not None:
        _apply_scenario(scen, seed, drift_start_us, restaurant_stats, orders, deliveries, o_time, s_time)
    return GeneratedData(
        restaurants=restaurants,
        restaurant_stats=restaurant_stats,
        orders=orders,
        deliveries=deliveries,
        seed=seed,
        scenario=scen,
        start=start,
        end=end,
        drift_start=drift_start,
    )


def _apply_scenario(
    scenario: Scenario,
    seed: int,
    drift_start_us: int,
    restaurant_stats: pd.DataFrame,
    orders: pd.DataFrame,
    deliveries: pd.DataFrame,
    o_time: np.ndarray,
    s_time: np.ndarray,
) -> None:
    """Change only SCENARIO_COLUMNS[scenario], only from drift_start on (in place)."""
    rng = np.random.default_rng([seed, list(Scenario).index(scenario) + 1])
    after = o_time >= drift_start_us
    s_after = s_time >= drift_start_us
    if scenario is Scenario.DISTANCE_SHIFT:
        distance = orders["distance_km"].to_numpy(copy=True)
        distance[after] = np.minimum(_round(distance[after] * 1.5, 0.01), 25.0)
        orders["distance_km"] = distance
    elif scenario is Scenario.NEW_VEHICLE:
        vehicle = orders["vehicle"].to_numpy(copy=True)
        vehicle[after & (rng.random(len(vehicle)) < 0.3)] = NEW_VEHICLE
        orders["vehicle"] = vehicle
    elif scenario is Scenario.COURIER_SHORTAGE:
        wait = restaurant_stats["courier_wait_minutes_7d"].to_numpy(copy=True)
        wait[s_after] = _round(wait[s_after] * 2.0 + 4.0, 0.1)
        restaurant_stats["courier_wait_minutes_7d"] = wait
    elif scenario is Scenario.MISSING_VALUES:
        for column in SCENARIO_COLUMNS[scenario]["restaurant_stats"]:
            values = restaurant_stats[column].to_numpy(copy=True)
            values[s_after & (rng.random(len(values)) < 0.35)] = np.nan
            restaurant_stats[column] = values
    elif scenario is Scenario.LABEL_SHIFT:
        # Road works: every delivery after drift_start takes eight minutes longer than the model learned.
        minutes = deliveries["delivered_minutes"].to_numpy(copy=True)
        minutes[after] = np.minimum(minutes[after] + 8.0, MAX_MINUTES)
        deliveries["delivered_minutes"] = minutes
        deliveries["delivered_timestamp"] = utc_series(o_time + np.round(minutes * 60e6).astype(np.int64))


def write(data: GeneratedData, out: Path) -> dict[str, Path]:
    """Write `<out>/<table>/<table>.parquet` plus `<out>/manifest.json` (steelthread_contracts.tables)."""
    return tables.write_tables(
        {name: data.table(name) for name in TABLES},
        SCHEMAS,
        out,
        seed=data.seed,
        scenario=data.scenario.value if data.scenario else None,
        start=data.start,
        end=data.end,
        drift_start=data.drift_start,
    )


def read(data_dir: Path, name: str) -> pd.DataFrame:
    """Read one generated table back as pandas (timestamps stay datetime64[us, UTC])."""
    return tables.read_table(data_dir, name, TABLES)
