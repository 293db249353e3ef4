"""Shared fixtures: one generated data set plus hand-made hard cases, applied once per session.

`import feast` and `apply` are slow, so every local-profile test shares this store. Everything follows the
active use case (`STEELTHREAD_USECASE`, default credit): the world is its generator's tables, and the
point-in-time hard cases are rows of its own tables (a generated row as the template, with the key, the
times and the feature values replaced), so the same traps run on credit, delivery or a fixture use case.
test_features_usecase_fixture.py runs the plumbing end to end on the multiclass fixture in subprocesses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers.pit_cases import HISTORY, NO_PROFILE, PROFILES, hard_cases, history_values, template_columns
from steelthread_contracts.usecase import RequestField
from steelthread_features import store
from steelthread_features.definitions import JOIN_KEY, USE_CASE
from steelthread_features.generator import generate, write
from steelthread_features.settings import FeatureSettings

PROMETHEUS_ENV_AT_START = {
    name: os.environ.get(name) for name in ("PROMETHEUS_MULTIPROC_DIR", "PROMETHEUS_MULTIPROCESS_DIR")
}
"""Captured before any test loads Feast (which would otherwise set these)."""


@dataclass(frozen=True)
class World:
    data: Any
    """The active use case's generated tables (`data.table(name)`)."""
    settings: FeatureSettings
    hard_entities: pd.DataFrame
    expected: dict[str, float | None]
    """HISTORY_FEATURE each hard case's row at E must get (None = must be missing)."""
    profiles: dict[str, Any]
    """The profile views' columns as the hard cases' profile rows hold them."""

    def stored(self, table: str) -> pd.DataFrame:
        """A table of the offline store as Feast reads it (generated plus hard-case files)."""
        return _read(self.settings.tables_dir / table)

    def entity_ids(self) -> list[int]:
        """Every entity key of the first feature view's table, sorted."""
        return sorted(int(k) for k in self.stored(USE_CASE.views[0].table)[JOIN_KEY].unique())

    def stored_at_e(self, case: str) -> dict[str, Any]:
        """Every stored column of every view as the case's entity row at E must see it (None = missing)."""
        value = self.expected[case]
        history: dict[str, Any] = dict.fromkeys(HISTORY.columns)
        if value is not None:
            history |= template_columns(self.data, HISTORY) | history_values(value)
        profile = {} if case in NO_PROFILE else self.profiles
        return history | {c: profile.get(c) for view in PROFILES for c in view.columns}


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


def _write(frame: pd.DataFrame, schema: pa.Schema, path: Path) -> None:
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), path)


def _read(folder: Path) -> pd.DataFrame:
    frame: pd.DataFrame = pq.read_table(folder).to_pandas()
    return frame


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("features")
    data = generate(1_500, seed=11)
    paths = write(data, root / "data")
    tables, entities, expected, profiles = hard_cases(data)
    for table, frame in tables.items():
        _write(frame, pq.read_schema(paths[table]).remove_metadata(), root / "data" / table / "hard.parquet")
    settings = FeatureSettings(
        profile="local", tables_dir=root / "data", feast_dir=root / "feast", project="steelthread"
    )
    store.apply(settings)
    return World(
        data=data,
        settings=settings,
        hard_entities=entities,
        expected=expected,
        profiles=profiles,
    )


@pytest.fixture(scope="session")
def prometheus_env_at_start() -> dict[str, str | None]:
    return dict(PROMETHEUS_ENV_AT_START)
