"""Shared fixtures of the batch tests: a real model package, scoring inputs, a feature world, Spark.

Everything follows the active use case (`STEELTHREAD_USECASE`): the packages have its task and features,
the inputs its request fields and entity key, the feature world its generator and tables, with the
point-in-time traps of helpers.pit_cases. Expensive things (publishing a model, `feast apply`, a
SparkSession) are built once per session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from batch.model_fixtures import publish

from helpers.packages import onnx_scores
from helpers.pit_cases import CASES, hard_cases
from helpers.usecase import JOIN_KEY, USE_CASE, number_field, refused_value, sample_values
from steelthread_batch.columns import EVENT_TIMESTAMP, REQUEST_FIELDS, REQUEST_ID
from steelthread_batch.package import ModelPackage, load_package, resolve_package
from steelthread_contracts.decision import Thresholds
from steelthread_contracts.package import Task
from steelthread_contracts.usecase import USECASE_ENV, active_name

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Packages of the active use case's task: the champion (shipping its booster, for reason codes) and a
    challenger (without one)."""
    root = tmp_path_factory.mktemp("models")
    publish(root, "1", aliases=("champion",), threshold=0.5, seed=0, booster=True)
    publish(root, "2", aliases=("challenger",), threshold=0.3, seed=1, trees=20)
    return root


@pytest.fixture(scope="session")
def package(models_dir: Path) -> ModelPackage:
    """The champion as batch loads it, deciding with every decision in reach.

    A binary package decides with its own thresholds. A package of another task states none and decides
    with the use case's policy, whose cuts are in the use case's units (minutes, for the delivery example),
    which a model trained on noise never reaches: the policy's cuts are moved to the 40th and 80th
    percentiles of this model's predictions, so approve, review and decline all occur.
    """
    found = resolve_package(models_dir)
    if found.task is Task.BINARY:
        return found
    table = scoring_table(found, 2_000, seed=99)
    matrix = np.column_stack([table.column(n).to_numpy(zero_copy_only=False) for n in found.feature_names])
    predictions = onnx_scores(found.model_path, matrix.astype(np.float32), task=found.task.value)
    review, decline = np.quantile(predictions[np.isfinite(predictions)], [0.4, 0.8]).tolist()
    policy = replace(USE_CASE.policy, cuts=Thresholds(review=review, decline=decline))
    return load_package(Path(found.directory), policy=policy)


@pytest.fixture(scope="session")
def binary_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A binary package whatever the active task: what the tensorised forest (`--device cuda`) scores."""
    root = tmp_path_factory.mktemp("binary-models")
    publish(root, "1", aliases=("champion",), threshold=0.5, seed=0, task=Task.BINARY.value)
    return root


@pytest.fixture(scope="session")
def binary_package(binary_dir: Path) -> ModelPackage:
    return resolve_package(binary_dir)


INVALID_EVERY: Final = number_field()
"""The request field `bad_every` breaks (a value outside its declared bounds)."""


def scoring_table(package: ModelPackage, n: int, seed: int = 0, bad_every: int = 0) -> pa.Table:
    """Requests of the active use case that already carry the package's features (values inside each
    request field's declared rule); every `bad_every`-th row has `INVALID_EVERY` out of its bounds."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {
        REQUEST_ID: pa.array([f"req-{seed}-{i}" for i in range(n)], pa.string()),
        JOIN_KEY: pa.array(np.arange(1, n + 1, dtype=np.int64)),
        EVENT_TIMESTAMP: pa.array(
            [T0 + timedelta(minutes=i % 10_000) for i in range(n)], type=pa.timestamp("us", tz="UTC")
        ),
    }
    for field in USE_CASE.request_fields:
        values = sample_values(field, n, rng)
        if bad_every and field is INVALID_EVERY:
            values[::bad_every] = [refused_value(field)] * len(values[::bad_every])
        columns[field.name] = pa.array(values, REQUEST_FIELDS[field.name])
    for name in package.feature_names:
        features = rng.normal(size=n)
        features[rng.random(n) < 0.05] = np.nan
        columns[name] = pa.array(features, pa.float64())
    return pa.table(columns)


def write_input(table: pa.Table, folder: Path, row_group_size: int = 2_000, files: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    step = -(-table.num_rows // files)
    for i in range(files):
        pq.write_table(
            table.slice(i * step, step), folder / f"input-{i}.parquet", row_group_size=row_group_size
        )
    return folder


def cli_env(tmp_path: Path, models_dir: Path, **extra: str) -> dict[str, str]:
    """The CLI's environment: this process's use case (a fixture's import path needs tests/ on the path),
    and the data, models and log folders of the test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")}
    env[USECASE_ENV] = active_name()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "tests"), os.environ.get("PYTHONPATH")]))
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


@dataclass(frozen=True)
class FeatureWorld:
    root: Path
    local: Any
    spark: Any
    events: pd.DataFrame
    """The generator's decision requests (its events table, event time under the table's own name)."""
    hard_entities: pd.DataFrame
    """Requests at the point-in-time traps (helpers.pit_cases), one row per case at its time E first."""
    expected: dict[str, float | None]
    """`HISTORY_FEATURE` each hard case's row at E must get (None: missing)."""

    def hard_id(self, case: str) -> str:
        """The request id of a hard case's row at E."""
        return str(self.hard_entities[REQUEST_ID].iloc[CASES.index(case)])

    def entities_with_traps(self, n: int) -> pd.DataFrame:
        """The hard cases then `n` generated requests, as training-set entities (`event_timestamp`)."""
        frame = pd.concat([self.hard_entities, self.events.head(n)], ignore_index=True)
        return frame.rename(columns={USE_CASE.tables.event_time: EVENT_TIMESTAMP})


def hard_requests(entities: pd.DataFrame) -> pd.DataFrame:
    """The hard cases as scoring input: a request id per row, the events table's name for the time."""
    frame = entities.drop(columns=["case"]).rename(columns={EVENT_TIMESTAMP: USE_CASE.tables.event_time})
    frame.insert(0, REQUEST_ID, [f"hard-{i}-{case}" for i, case in enumerate(entities["case"])])
    return frame


@pytest.fixture(scope="session")
def feature_world(tmp_path_factory: pytest.TempPathFactory) -> FeatureWorld:
    from steelthread_features import store
    from steelthread_features.generator import generate, write
    from steelthread_features.settings import FeatureSettings

    root = tmp_path_factory.mktemp("feature-world")
    data = generate(300, seed=5)
    paths = write(data, root / "data")
    tables, entities, expected, _ = hard_cases(data)
    for table, frame in tables.items():
        schema = pq.read_schema(paths[table]).remove_metadata()
        arrow = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        pq.write_table(arrow, root / "data" / table / "hard.parquet")
    local = FeatureSettings(profile="local", tables_dir=root / "data", feast_dir=root / "feast")
    spark = FeatureSettings(
        profile="local", tables_dir=root / "data", feast_dir=root / "feast-spark", offline_store_kind="spark"
    )
    store.apply(local)
    store.apply(spark)
    events = data.table(USE_CASE.tables.events)
    return FeatureWorld(root, local, spark, events, hard_requests(entities), expected)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from steelthread_batch.spark_session import spark_session

    session = spark_session("local[2]", shuffle_partitions=2, driver_memory="1g")
    yield session
    session.stop()
