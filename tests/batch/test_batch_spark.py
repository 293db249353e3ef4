"""The Spark engine (local[2], one session for the module): same scorer, same answers as the local engine.

Spark pays ~7 s to start and a few seconds per job, so these tests are few and small.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from batch.conftest import scoring_table, write_input

from helpers.pit_cases import HISTORY_FEATURE
from helpers.usecase import choice_field, refused_choice
from steelthread_batch.local_engine import LocalJob, run_local
from steelthread_batch.spark_engine import SparkJob, run_spark
from steelthread_batch.training_set import TrainingSetJob, build_training_set
from steelthread_contracts import PredictionLogRecord
from steelthread_features import store

pytestmark = pytest.mark.slow


def _read(folder) -> pd.DataFrame:
    frame: pd.DataFrame = ds.dataset(folder, format="parquet").to_table().to_pandas()
    return frame.sort_values("request_id").reset_index(drop=True)


def test_spark_scores_equal_local_scores(tmp_path, spark, package) -> None:
    table = scoring_table(package, 3_000, seed=21, bad_every=100)
    source = write_input(table, tmp_path / "in", row_group_size=500, files=2)
    common = {"package": package, "role": "champion"}
    local = run_local(LocalJob(str(source), str(tmp_path / "local"), prediction_log_dir=None, **common))
    summary = run_spark(
        SparkJob(str(source), str(tmp_path / "spark"), prediction_log_dir=str(tmp_path / "log"), **common)
    )
    assert (summary.rows_in, summary.scored, summary.quarantined) == (3_000, 2_970, 30)
    assert json.loads((tmp_path / "spark" / "_SUCCESS").read_text())["scored"] == 2_970
    got, want = _read(tmp_path / "spark" / "scores"), _read(tmp_path / "local" / "scores")
    assert list(got.columns) == list(want.columns)
    assert got["request_id"].tolist() == want["request_id"].tolist()
    # float32 scores: a regression's value of a few hundred differs in its last bits between batchings
    np.testing.assert_allclose(got["score"], want["score"], rtol=1e-6, atol=1e-6)
    assert got["decision"].tolist() == want["decision"].tolist()
    quarantine = _read(tmp_path / "spark" / "quarantine")
    assert (
        quarantine["request_id"].tolist() == _read(tmp_path / "local" / "quarantine")["request_id"].tolist()
    )
    log = ds.dataset(tmp_path / "log" / "batch", format="parquet", partitioning="hive").to_table()
    assert log.num_rows == 2_970
    fields = sorted(PredictionLogRecord.model_fields)
    for row in log.select(fields).slice(0, 20).to_pylist():
        assert PredictionLogRecord.model_validate(row).source == "batch"
    assert local.scored == summary.scored


def test_spark_training_set_equals_training_frame_and_passes_the_traps(
    tmp_path, spark, feature_world
) -> None:
    entities = feature_world.entities_with_traps(120)
    (tmp_path / "entities").mkdir()
    entities.to_parquet(tmp_path / "entities" / "e.parquet", index=False)
    result = build_training_set(
        TrainingSetJob(
            entities_uri=str(tmp_path / "entities"),
            output_uri=str(tmp_path / "ts"),
            engine="spark",
            feature_settings=feature_world.spark,
        )
    )
    got = pq.read_table(tmp_path / "ts").to_pandas()
    want = store.training_frame(entities, settings=feature_world.local)
    assert result.columns == list(want.columns)
    pd.testing.assert_frame_equal(got, want)
    history = dict(zip(got["request_id"], got[HISTORY_FEATURE], strict=True))
    for case, value in feature_world.expected.items():
        actual = history[feature_world.hard_id(case)]
        assert np.isnan(actual) if value is None else actual == value, case


def test_spark_scoring_with_the_feast_spark_join(tmp_path, spark, feature_world, package) -> None:
    choice = choice_field()
    applications = feature_world.events.head(80).reset_index(drop=True)
    applications.loc[5, choice.name] = refused_choice(choice)
    (tmp_path / "in").mkdir()
    applications.to_parquet(tmp_path / "in" / "apps.parquet", index=False)
    common = {"package": package, "role": "champion", "prediction_log_dir": None}
    spark_summary = run_spark(
        SparkJob(
            str(tmp_path / "in"), str(tmp_path / "spark"), feature_settings=feature_world.spark, **common
        )
    )
    local_summary = run_local(
        LocalJob(
            str(tmp_path / "in"), str(tmp_path / "local"), feature_settings=feature_world.local, **common
        )
    )
    assert (spark_summary.scored, spark_summary.quarantined) == (
        local_summary.scored,
        local_summary.quarantined,
    )
    assert spark_summary.quarantined >= 1
    got, want = _read(tmp_path / "spark" / "scores"), _read(tmp_path / "local" / "scores")
    assert got["request_id"].tolist() == want["request_id"].tolist()
    # float32 scores: a regression's value of a few hundred differs in its last bits between batchings
    np.testing.assert_allclose(got["score"], want["score"], rtol=1e-6, atol=1e-6)
    reasons = _read(tmp_path / "spark" / "quarantine").set_index("request_id")["quarantine_reason"]
    assert reasons[applications.loc[5, "request_id"]] == f"invalid_value:{choice.name}"


def _error_line(result) -> str:
    assert result.returncode != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr[-2_000:]
    return lines[-1]


def test_a_multi_million_row_input_scores_on_default_settings(tmp_path, models_dir, package) -> None:
    """The default path (the CLI, `local[*]`, the default driver memory) scores millions of rows and
    accounts for every one, so it cannot silently go back to running out of memory."""
    from batch.conftest import cli_env, run_cli

    block = scoring_table(package, 250_000, seed=31, bad_every=1_000)
    folder = tmp_path / "in"
    folder.mkdir()
    files = 8
    for i in range(files):
        ids = pa.array([f"m{i}-{n}" for n in range(block.num_rows)], pa.string())
        pq.write_table(block.set_column(0, "request_id", ids), folder / f"part-{i}.parquet")
    out = tmp_path / "out"
    env = cli_env(tmp_path, models_dir)
    result = run_cli(["score", "--engine", "spark", "--input", str(folder), "--output", str(out)], env, 900)
    assert result.returncode == 0, result.stderr[-2_000:]
    summary = json.loads((out / "_SUCCESS").read_text())
    assert summary["rows_in"] == files * block.num_rows == 2_000_000
    assert summary["rows_in"] == summary["scored"] + summary["quarantined"]
    assert summary["quarantined"] == files * 250
    scored = ds.dataset(out / "scores", format="parquet").count_rows()
    quarantined = ds.dataset(out / "quarantine", format="parquet").count_rows()
    logged = ds.dataset(tmp_path / "prediction-log", format="parquet", partitioning="hive").count_rows()
    assert (scored, quarantined, logged) == (summary["scored"], summary["quarantined"], summary["scored"])


def test_too_little_spark_memory_is_one_line_naming_the_setting(tmp_path, models_dir, package) -> None:
    from batch.conftest import cli_env, run_cli

    source = write_input(scoring_table(package, 100, seed=32), tmp_path / "in")
    env = cli_env(tmp_path, models_dir, STEELTHREAD_SPARK_DRIVER_MEMORY="100m")
    out = tmp_path / "out"
    line = _error_line(
        run_cli(["score", "--engine", "spark", "--input", str(source), "--output", str(out)], env)
    )
    assert "out of memory" in line, line
    assert "STEELTHREAD_SPARK_DRIVER_MEMORY" in line, line
    assert not (out / "_SUCCESS").exists()


@pytest.mark.parametrize(
    "failure",
    [
        "java.lang.OutOfMemoryError: Java heap space",
        "org.apache.arrow.memory.OutOfMemoryException: Memory was leaked by query",
        "ExecutorLostFailure (executor 3 exited caused by one of the running tasks)",
        "org.apache.spark.SparkException: Python worker exited unexpectedly (crashed)",
    ],
)
def test_spark_failures_with_a_memory_remedy_name_the_setting(failure) -> None:
    from steelthread_batch.errors import BatchInputError
    from steelthread_batch.spark_session import spark_errors

    hint = r"STEELTHREAD_SPARK_DRIVER_MEMORY.*spark\.executor\.memory"
    with pytest.raises(BatchInputError, match=hint), spark_errors():
        raise RuntimeError(f"An error occurred while calling o123.parquet.\n: {failure}")
    with pytest.raises(BatchInputError, match="JVM stopped answering"), spark_errors():
        raise ConnectionRefusedError(111, "Connection refused")
    with pytest.raises(KeyError), spark_errors():  # anything else keeps its own error
        raise KeyError("not a resource problem")
