"""Shared fixtures of the batch tests: a real model package, scoring inputs, a feature world, Spark.

Expensive things (publishing a model, `feast apply`, a SparkSession) are built once per session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from batch.model_fixtures import publish

from steelthread_batch.package import ModelPackage, resolve_package

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    publish(root, "1", aliases=("champion",), threshold=0.5, seed=0)
    publish(root, "2", aliases=("challenger",), threshold=0.3, seed=1, trees=20)
    return root


@pytest.fixture(scope="session")
def package(models_dir: Path) -> ModelPackage:
    return resolve_package(models_dir)


def scoring_table(package: ModelPackage, n: int, seed: int = 0, bad_every: int = 0) -> pa.Table:
    """Applications that already carry the package's features; every `bad_every`-th row is invalid."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {
        "request_id": [f"req-{seed}-{i}" for i in range(n)],
        "customer_id": np.arange(1, n + 1, dtype=np.int64),
        "event_timestamp": pa.array(
            [T0 + timedelta(minutes=i % 10_000) for i in range(n)], type=pa.timestamp("us", tz="UTC")
        ),
        "loan_amount": rng.uniform(1_000, 50_000, n),
        "term_months": rng.choice([12, 24, 36, 48, 60], n).astype(np.int64),
        "purpose": rng.choice(["car", "business", "other"], n).astype(object),
        "declared_income": rng.uniform(10_000, 150_000, n),
    }
    for name in package.feature_names:
        values = rng.normal(size=n)
        values[rng.random(n) < 0.05] = np.nan
        columns[name] = values
    frame = pd.DataFrame({k: v for k, v in columns.items() if k != "event_timestamp"})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.add_column(2, "event_timestamp", columns["event_timestamp"])
    if bad_every:
        amounts = table.column("loan_amount").to_numpy().copy()
        amounts[::bad_every] = -1.0
        table = table.set_column(
            table.schema.get_field_index("loan_amount"), "loan_amount", pa.array(amounts)
        )
    return table.replace_schema_metadata(None)


def write_input(table: pa.Table, folder: Path, row_group_size: int = 2_000, files: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    step = -(-table.num_rows // files)
    for i in range(files):
        pq.write_table(
            table.slice(i * step, step), folder / f"input-{i}.parquet", row_group_size=row_group_size
        )
    return folder


def cli_env(tmp_path: Path, models_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")}
    env.update(
        STEELTHREAD_DATA_DIR=str(tmp_path / "var"),
        STEELTHREAD_MODELS_DIR=str(models_dir),
        STEELTHREAD_PREDICTION_LOG_DIR=str(tmp_path / "prediction-log"),
        **extra,
    )
    return env


def run_cli(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "steelthread_batch", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_cli(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "steelthread_batch", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# --- A feature world: generated data plus point-in-time traps, applied for DuckDB and for Spark --------

HARD_BASE = 20_000_000
E = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class FeatureWorld:
    root: Path
    local: Any
    spark: Any
    applications: pd.DataFrame
    hard_entities: pd.DataFrame
    expected_balance: dict[str, float | None]


def _history(customer: int, at: datetime, created: datetime, value: float) -> dict[str, object]:
    row: dict[str, object] = {"customer_id": customer, "event_timestamp": at, "created_timestamp": created}
    for k, name in enumerate(
        (
            "total_balance",
            "credit_utilisation",
            "delinquencies_12m",
            "months_since_delinquency",
            "past_loans",
            "inquiries_6m",
        )
    ):
        row[name] = value + k
    return row


def hard_cases() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, float | None]]:
    """Point-in-time traps: future rows, TTL edges, ties on event time, exact-time matches."""
    names = ["future_only", "expired", "tie", "leak", "exact", "ttl_edge", "unknown"]
    c = {name: HARD_BASE + i for i, name in enumerate(names)}
    history = [
        _history(c["future_only"], E + DAY, E + DAY, 1.0),
        _history(c["expired"], E - 91 * DAY, E - 91 * DAY, 2.0),
        _history(c["tie"], E - 5 * DAY, E - 5 * DAY + timedelta(hours=2), 32.0),
        _history(c["tie"], E - 5 * DAY, E - 5 * DAY + timedelta(hours=1), 31.0),
        _history(c["leak"], E - 10 * DAY, E - 10 * DAY, 60.0),
        _history(c["leak"], E + timedelta(microseconds=1), E, 999.0),
        _history(c["exact"], E - DAY, E - DAY, 70.0),
        _history(c["exact"], E, E, 71.0),
        _history(c["ttl_edge"], E - 90 * DAY, E - 90 * DAY, 80.0),
    ]
    profiles = [
        {
            "customer_id": cid,
            "event_timestamp": E - 400 * DAY,
            "created_timestamp": E - 400 * DAY,
            "age": 40.0,
            "years_employed": 3.0,
            "months_at_address": 20.0,
            "home_ownership": "own",
            "region": "north",
            "protected_group": "group_a",
        }
        for name, cid in c.items()
        if name != "unknown"
    ]
    entities = pd.DataFrame(
        {
            "request_id": [f"hard-{n}" for n in names],
            "customer_id": [c[n] for n in names],
            "event_timestamp": pd.Series([E] * len(names)).astype("datetime64[us, UTC]"),
            "loan_amount": 5_000.0,
            "term_months": 36,
            "purpose": "car",
            "declared_income": 40_000.0,
        }
    )
    expected: dict[str, float | None] = {
        "future_only": None,
        "expired": None,
        "tie": 32.0,
        "leak": 60.0,
        "exact": 71.0,
        "ttl_edge": 80.0,
        "unknown": None,
    }
    return pd.DataFrame(profiles), pd.DataFrame(history), entities, expected


@pytest.fixture(scope="session")
def feature_world(tmp_path_factory: pytest.TempPathFactory) -> FeatureWorld:
    from steelthread_features import store
    from steelthread_features.settings import FeatureSettings
    from steelthread_usecase_credit.generator import SCHEMAS, generate, write

    root = tmp_path_factory.mktemp("feature-world")
    data = generate(300, seed=5)
    write(data, root / "data")
    profiles, history, entities, expected = hard_cases()
    for frame, table in ((profiles, "customers"), (history, "credit_history")):
        arrow = pa.Table.from_pandas(frame, schema=SCHEMAS[table], preserve_index=False)
        pq.write_table(arrow.replace_schema_metadata(None), root / "data" / table / "hard.parquet")
    local = FeatureSettings(profile="local", data_dir=root / "data", feast_dir=root / "feast")
    spark = FeatureSettings(
        profile="local", data_dir=root / "data", feast_dir=root / "feast-spark", offline_store_kind="spark"
    )
    store.apply(local)
    store.apply(spark)
    return FeatureWorld(root, local, spark, data.applications, entities, expected)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from steelthread_batch.spark_session import spark_session

    session = spark_session("local[2]", shuffle_partitions=2, driver_memory="1g")
    yield session
    session.stop()
