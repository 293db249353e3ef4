"""Shared fixtures: one generated data set plus hand-made hard cases, applied once per session.

`import feast` and `apply` are slow, so every local-profile test shares this store. The session runs the
credit example (the default use case): the generated world and its point-in-time hard cases are credit
data (credit-domain fixtures, from steelthread_usecase_credit), while plumbing tests take every name
(join key, views, request fields, tables) from the active use case, through `steelthread_features`
and `make_requests`. test_features_usecase_fixture.py runs the same plumbing on a multiclass fixture.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from steelthread_contracts.usecase import RequestField
from steelthread_features import store
from steelthread_features.definitions import JOIN_KEY, USE_CASE
from steelthread_features.settings import FeatureSettings
from steelthread_usecase_credit.domain import HISTORY_FEATURES
from steelthread_usecase_credit.generator import SCHEMAS, GeneratedData, generate, write

PROMETHEUS_ENV_AT_START = {
    name: os.environ.get(name) for name in ("PROMETHEUS_MULTIPROC_DIR", "PROMETHEUS_MULTIPROCESS_DIR")
}
"""Captured before any test loads Feast (which would otherwise set these)."""

HARD_BASE = 10_000_000
E = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
"""Entity time of the hard cases."""


@dataclass(frozen=True)
class World:
    data: GeneratedData
    settings: FeatureSettings
    hard_entities: pd.DataFrame
    expected: dict[str, float | None]
    """total_balance each hard entity row must get (None = must be missing)."""

    def stored(self, table: str) -> pd.DataFrame:
        """A table of the offline store as Feast reads it (generated plus hard-case files)."""
        return _read(self.settings.data_dir / table)

    def entity_ids(self) -> list[int]:
        """Every entity key of the first feature view's table, sorted."""
        return sorted(int(k) for k in self.stored(USE_CASE.views[0].table)[JOIN_KEY].unique())


def request_value(field: RequestField, i: int) -> float | int | str:
    """The i-th of a deterministic spread of valid values of a request field (every 7th sits on a closed
    lower bound, e.g. a zero income), whatever the use case."""
    if field.kind == "choice":
        return field.choices[i % len(field.choices)]
    low = field.ge if field.ge is not None else (field.gt if field.gt is not None else 0.0)
    high = field.le if field.le is not None else (field.lt if field.lt is not None else low + 10_000.0)
    high = min(high, low + 100_000.0)
    share = ((i * 0.6180339887) % 1.0) * 0.9 + 0.05  # strictly inside (low, high)
    if field.kind == "integer":
        return (
            int(field.ge) if i % 7 == 0 and field.ge is not None else int(low + 1 + (high - low - 2) * share)
        )
    return float(field.ge) if i % 7 == 0 and field.ge is not None else round(low + (high - low) * share, 2)


def make_request(entity_id: int, i: int = 0) -> dict[str, object]:
    """A valid online request of the active use case for one entity (a mapping, as batch files send)."""
    return {JOIN_KEY: entity_id, **{f.name: request_value(f, i) for f in USE_CASE.request_fields}}


@pytest.fixture(scope="session")
def make_requests():
    """`make_requests(entity_ids)`: one valid request per entity key, with varied field values."""

    def requests(entity_ids: list[int]) -> list[dict[str, object]]:
        return [make_request(int(k), i) for i, k in enumerate(entity_ids)]

    return requests


def _history_row(customer: int, at: datetime, created: datetime, value: float) -> dict[str, object]:
    row: dict[str, object] = {
        "customer_id": customer,
        "event_timestamp": at,
        "created_timestamp": created,
    }
    for k, name in enumerate(HISTORY_FEATURES):
        row[name] = value + k / 10
    return row


def _profile_row(customer: int, at: datetime, home: str = "rent") -> dict[str, object]:
    return {
        "customer_id": customer,
        "event_timestamp": at,
        "created_timestamp": at,
        "age": 30.0 + customer % 7,
        "years_employed": 2.5,
        "months_at_address": 12.0,
        "home_ownership": home,
        "region": "north",
        "protected_group": "group_b",
    }


def hard_cases() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, float | None]]:
    """Profiles, history rows and entity rows covering every point-in-time trap."""
    c = {
        name: HARD_BASE + i
        for i, name in enumerate(
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
            start=1,
        )
    }
    day = timedelta(days=1)
    history = [
        _history_row(c["after_only"], E + day, E + day, 1.0),
        _history_row(c["expired"], E - 91 * day, E - 91 * day, 2.0),
        # Same event time: the later created_timestamp wins, whatever the file order.
        _history_row(c["tie"], E - 5 * day, E - 5 * day + timedelta(hours=2), 32.0),
        _history_row(c["tie"], E - 5 * day, E - 5 * day + timedelta(hours=1), 31.0),
        _history_row(c["leak"], E - 10 * day, E - 10 * day, 60.0),
        _history_row(c["leak"], E + timedelta(microseconds=1), E, 999.0),
        _history_row(c["exact"], E - day, E - day, 70.0),
        _history_row(c["exact"], E, E, 71.0),
        _history_row(c["ttl_edge"], E - 90 * day, E - 90 * day, 80.0),
        _history_row(c["just_expired"], E - 90 * day - timedelta(microseconds=1), E, 90.0),
        _history_row(c["profile_after"], E - day, E - day, 95.0),
    ]
    profiles = [
        _profile_row(cid, E - 400 * day, home=("own" if i % 2 else "mortgage"))
        for i, (name, cid) in enumerate(c.items())
        if name not in {"nothing", "profile_after"}
    ]
    profiles.append(_profile_row(c["profile_after"], E + day))
    names = [*c.keys(), "tie", "leak"]
    times = [E] * len(c) + [E, E + 2 * day]
    entities = pd.DataFrame(
        {
            "case": names,
            "customer_id": [c[n] for n in names],
            "event_timestamp": pd.Series(times).astype("datetime64[us, UTC]"),
            "loan_amount": 5_000.0,
            "term_months": 36,
            "purpose": "car",
            "declared_income": [0.0 if n == "nothing" else 40_000.0 for n in names],
        }
    )
    expected: dict[str, float | None] = {
        "after_only": None,
        "expired": None,
        "tie": 32.0,
        "no_history": None,
        "nothing": None,
        "leak": 60.0,
        "exact": 71.0,
        "ttl_edge": 80.0,
        "profile_after": 95.0,
        "just_expired": None,
    }
    return pd.DataFrame(profiles), pd.DataFrame(history), entities, expected


def _write(frame: pd.DataFrame, schema: pa.Schema, path: Path) -> None:
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), path)


def _read(folder: Path) -> pd.DataFrame:
    frame: pd.DataFrame = pq.read_table(folder).to_pandas()
    return frame


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("features")
    data = generate(1_500, seed=11)
    write(data, root / "data")
    profiles, history, entities, expected = hard_cases()
    _write(profiles, SCHEMAS["customers"], root / "data" / "customers" / "hard.parquet")
    _write(history, SCHEMAS["credit_history"], root / "data" / "credit_history" / "hard.parquet")
    settings = FeatureSettings(
        profile="local", data_dir=root / "data", feast_dir=root / "feast", project="steelthread"
    )
    store.apply(settings)
    return World(
        data=data,
        settings=settings,
        hard_entities=entities,
        expected=expected,
    )


@pytest.fixture(scope="session")
def prometheus_env_at_start() -> dict[str, str | None]:
    return dict(PROMETHEUS_ENV_AT_START)
