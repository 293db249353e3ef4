"""Scoring with the point-in-time join, and `training-set`, on the local engine (DuckDB store).

The world is the active use case's generated tables plus the point-in-time traps of helpers.pit_cases
(batch.conftest.feature_world); the requests are its events."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from batch.conftest import INVALID_EVERY

from helpers.pit_cases import HISTORY_FEATURE
from helpers.usecase import USE_CASE, refused_value
from steelthread_batch.local_engine import LocalJob, run_local
from steelthread_batch.scoring import RunInfo, score_batches
from steelthread_batch.training_set import TrainingSetJob, build_training_set
from steelthread_features import feature_names, store

EVENT_TIME = USE_CASE.tables.event_time
"""The events table's name for the event time (what a scoring input may carry)."""


def _requests(world, n: int) -> pd.DataFrame:
    """`n` generated requests and the hard cases; the fourth is one serving would refuse."""
    frame = pd.concat([world.events.head(n), world.hard_entities], ignore_index=True)
    frame.loc[3, INVALID_EVERY.name] = refused_value(INVALID_EVERY)
    return frame


def test_scores_after_the_join_equal_scores_of_the_training_frame(tmp_path, feature_world, package) -> None:
    applications = _requests(feature_world, 200)
    (tmp_path / "in").mkdir()
    applications.to_parquet(tmp_path / "in" / "apps.parquet", index=False)
    job = LocalJob(
        input_uri=str(tmp_path / "in"),
        output_uri=str(tmp_path / "out"),
        package=package,
        role="champion",
        prediction_log_dir=None,
        rows_per_part=64,
        feature_settings=feature_world.local,
    )
    summary = run_local(job)
    assert summary.rows_in == len(applications) == summary.scored + summary.quarantined
    quarantine = pq.read_table(tmp_path / "out" / "quarantine").to_pandas()
    assert quarantine.set_index("request_id")["quarantine_reason"].to_dict() == {
        applications.loc[3, "request_id"]: f"invalid_value:{INVALID_EVERY.name}",
        feature_world.hard_id("nothing"): "missing_features",
    }
    # Reference: the training frame (the path training uses), scored by the same function.
    valid = applications.drop(index=3).rename(columns={EVENT_TIME: "event_timestamp"})
    frame = store.training_frame(valid, settings=feature_world.local)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    reference = (
        pa.Table.from_batches(
            list(score_batches(iter(table.to_batches()), package, RunInfo("ref", summary_time(tmp_path))))
        )
        .to_pandas()
        .set_index("request_id")
    )
    scores = pq.read_table(tmp_path / "out" / "scores").to_pandas().set_index("request_id")
    common = scores.index
    assert len(common) == summary.scored
    assert np.abs(scores.loc[common, "score"] - reference.loc[common, "score"]).max() <= 1e-6


def summary_time(tmp_path):
    import json
    from datetime import datetime

    return datetime.fromisoformat(json.loads((tmp_path / "out" / "_run.json").read_text())["started_at"])


def test_training_set_local_matches_training_frame_and_point_in_time_traps(tmp_path, feature_world) -> None:
    entities = feature_world.entities_with_traps(150)
    (tmp_path / "entities").mkdir()
    entities.to_parquet(tmp_path / "entities" / "e.parquet", index=False)
    result = build_training_set(
        TrainingSetJob(
            entities_uri=str(tmp_path / "entities"),
            output_uri=str(tmp_path / "ts"),
            rows_per_part=40,
            feature_settings=feature_world.local,
        )
    )
    got = pq.read_table(tmp_path / "ts").to_pandas()
    want = store.training_frame(entities, settings=feature_world.local)
    assert result.columns == list(want.columns) == [*entities.columns, *feature_names()]
    pd.testing.assert_frame_equal(got, want)
    history = dict(zip(got["request_id"], got[HISTORY_FEATURE], strict=True))
    for case, value in feature_world.expected.items():
        actual = history[feature_world.hard_id(case)]
        assert np.isnan(actual) if value is None else actual == value, case
    assert (tmp_path / "ts" / "_SUCCESS").exists()


def test_spark_engine_without_a_spark_feature_store_stops_before_any_output(
    tmp_path, feature_world, package
) -> None:
    from steelthread_batch.errors import BatchInputError
    from steelthread_batch.spark_engine import SparkJob, run_spark

    (tmp_path / "in").mkdir()
    feature_world.events.head(5).to_parquet(tmp_path / "in" / "a.parquet", index=False)
    job = SparkJob(
        str(tmp_path / "in"),
        str(tmp_path / "out"),
        package,
        "champion",
        None,
        feature_settings=feature_world.local,
    )
    with pytest.raises(BatchInputError, match="STEELTHREAD_OFFLINE_STORE_KIND=spark"):
        run_spark(job)
    assert not (tmp_path / "out").exists()
