"""The Spark engine: the same scorer under `mapInArrow`, the package shipped to every executor.

One Python pass per row: `score_for_spark` runs the scorer and, when a prediction log is asked for, builds
the log record in the same batch (a struct column), and hands back only what the outputs need, never the
feature columns themselves (each column crossing back costs the JVM a row conversion). The result is
persisted on disk only, so the scores, quarantine and log writes and the row count read it instead of
scoring again, and the JVM heap holds no cached rows whatever the input size.

Spark's own output committer makes each folder appear complete or not at all; a run killed midway is
restarted as a whole (same run id, folders overwritten) and `_SUCCESS` at the output root is written only
after the row accounting holds. The local engine's part-level resume is what one machine needs; on a
cluster Spark retries failed tasks itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from steelthread_batch.columns import (
    ENTITY_KEY,
    EVENT_TIME_ALIAS,
    EVENT_TIMESTAMP,
    KEY_FIELDS,
    QUARANTINE_COLUMNS,
    QUARANTINE_REASON,
    REQUEST_FIELDS,
    REQUEST_ID,
    RESULT_FIELDS,
    SCORE_COLUMNS,
    output_schema,
)
from steelthread_batch.errors import BatchInputError
from steelthread_batch.inputs import check_schema, input_fingerprint, open_input
from steelthread_batch.output import Layout
from steelthread_batch.package import ModelPackage
from steelthread_batch.prediction_log import prediction_log_schema, to_prediction_log
from steelthread_batch.run import RunSummary, package_identity, start_or_resume
from steelthread_batch.scoring import RunInfo, score_batches
from steelthread_batch.spark_session import spark_errors, spark_session
from steelthread_batch.storage import Location, locate
from steelthread_contracts.privacy import NO_POLICY, LogPolicy

if TYPE_CHECKING:
    from steelthread_features.settings import FeatureSettings


RESULT_COLUMNS: tuple[str, ...] = tuple(f.name for f in (*KEY_FIELDS, *RESULT_FIELDS))
"""What the Python pass hands back to the JVM besides the log: keys and results, no features."""
LOG_COLUMN = "prediction_log"
"""The struct column holding each scored row's prediction-log record (null for a quarantined row)."""


@dataclass(frozen=True)
class LogSpec:
    feature_names: tuple[str, ...]
    role: str
    policy: LogPolicy = NO_POLICY


@dataclass(frozen=True)
class SparkJob:
    input_uri: str
    output_uri: str
    package: ModelPackage
    role: str
    prediction_log_dir: str | None
    master: str | None = None
    shuffle_partitions: int = 8
    driver_memory: str = "2g"
    threads: int = 1
    arrow_rows: int = 65_536
    feature_settings: FeatureSettings | None = None
    log_policy: LogPolicy = NO_POLICY
    """What the prediction log keeps of personal fields (steelthread_contracts.privacy)."""


def spark_uri(location: Location) -> str:
    """What Spark's readers and writers take: plain local paths, object-store URIs as given."""
    return location.path if location.uri.startswith("/") else location.uri


def to_spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema, prefer_timestamp_ntz=False)


def to_arrow_schema(spark_schema: Any) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema as convert

    schema: pa.Schema = convert(spark_schema, timezone="UTC")
    return schema


def spark_output_schema(in_schema: pa.Schema, package: ModelPackage, log: LogSpec | None) -> pa.Schema:
    """The schema `score_for_spark` yields: keys and results, plus the log struct when logging."""
    scored = output_schema(in_schema, package)
    fields = [scored.field(name) for name in RESULT_COLUMNS]
    if log is not None:
        record = prediction_log_schema(scored, log.feature_names, log.policy)
        fields.append(pa.field(LOG_COLUMN, pa.struct(list(record))))
    return pa.schema(fields)


def _aligned_log(scored: pa.RecordBatch, log: LogSpec) -> pa.Array:
    """The batch's log records as one struct per input row: `to_prediction_log` keeps scored rows
    only, so each quarantined row gets a null."""
    records = to_prediction_log(scored, log.feature_names, log.role, log.policy)
    struct = pa.StructArray.from_arrays(records.columns, fields=list(records.schema))
    kept = pc.is_null(scored.column(QUARANTINE_REASON)).to_numpy(zero_copy_only=False)
    if kept.all():
        return struct
    positions = np.cumsum(kept) - 1
    indices = pa.array(positions, mask=~kept, type=pa.int64())
    aligned: pa.Array = struct.take(indices)
    return aligned


def score_for_spark(
    batches: Iterator[pa.RecordBatch], package: ModelPackage, run: RunInfo, log: LogSpec | None
) -> Iterator[pa.RecordBatch]:
    """The scorer (`score_batches`, the one both engines run), narrowed to what the outputs read; the
    `mapInArrow` shape."""
    for scored in score_batches(batches, package, run):
        out = scored.select(list(RESULT_COLUMNS))
        if log is not None:
            out = out.append_column(LOG_COLUMN, _aligned_log(scored, log))
        yield out


def ship_package(spark: Any, package: ModelPackage) -> ModelPackage:
    """Send the package folder to every executor (SparkFiles) and describe it by its shipped name."""
    folder = Path(package.directory)
    spark.sparkContext.addFile(str(folder), recursive=True)
    return package.shipped(folder.name)


def run_spark(job: SparkJob) -> RunSummary:
    started = time.perf_counter()
    source = locate(job.input_uri)
    dataset = open_input(source)
    join = check_schema(dataset.schema, job.package.feature_names)
    if join:
        from steelthread_batch.spark_features import check_spark_settings

        check_spark_settings(job.feature_settings)  # before any output exists
    identity = {
        "engine": "spark",
        "input": source.uri,
        "files": input_fingerprint(dataset),
        "model": package_identity(job.package),
        "join": join,
    }
    run_id, started_at, layout, _ = start_or_resume(locate(job.output_uri), identity, job.prediction_log_dir)
    if layout.success.exists():
        data = dict(layout.success.read_json())
        data["seconds"] = round(time.perf_counter() - started, 3)
        return RunSummary(**data)
    with spark_errors():
        by_kind, rows_in = _score_and_write(
            job, source, join, layout, RunInfo(run_id, started_at, job.threads)
        )
    summary = RunSummary(
        run_id=run_id,
        output=layout.root.uri,
        prediction_log=layout.log_run.uri if layout.log_run else None,
        rows_in=rows_in,
        scored=by_kind.get(False, 0),
        quarantined=by_kind.get(True, 0),
        parts=1,
        parts_resumed=0,
        model_version=job.package.version,
        engine="spark",
        seconds=round(time.perf_counter() - started, 3),
    )
    if summary.rows_in != summary.scored + summary.quarantined:
        raise BatchInputError(
            f"row accounting failed: in={summary.rows_in} scored={summary.scored} "
            f"quarantined={summary.quarantined}"
        )
    layout.success.write_json_atomic(summary.as_json(), layout.staging)
    layout.discard_temporaries()
    return summary


def _score_and_write(
    job: SparkJob, source: Location, join: bool, layout: Layout, run: RunInfo
) -> tuple[dict[bool, int], int]:
    """Score once, write the three outputs from the disk-persisted result; the output counts by
    `refused` and the input's row count (from the parquet footers)."""
    spark = spark_session(
        job.master,
        shuffle_partitions=job.shuffle_partitions,
        driver_memory=job.driver_memory,
        arrow_rows=job.arrow_rows,
    )
    from pyspark import StorageLevel
    from pyspark.sql import functions as F  # noqa: N812

    frame = spark.read.parquet(spark_uri(source))
    if EVENT_TIMESTAMP not in frame.columns and EVENT_TIME_ALIAS in frame.columns:
        frame = frame.withColumnRenamed(EVENT_TIME_ALIAS, EVENT_TIMESTAMP)
    keep = [REQUEST_ID, ENTITY_KEY, EVENT_TIMESTAMP, *(n for n in REQUEST_FIELDS if n in frame.columns)]
    if join:
        from steelthread_batch.spark_features import join_features

        frame = join_features(spark, frame.select(*keep), job.package.feature_names, job.feature_settings)
    else:
        frame = frame.select(*keep, *(n for n in job.package.feature_names if n not in keep))
    shipped = ship_package(spark, job.package)
    log = (
        LogSpec(tuple(job.package.feature_names), job.role, job.log_policy)
        if layout.log_run is not None
        else None
    )
    schema = spark_output_schema(to_arrow_schema(frame.schema), job.package, log)
    fn = partial(score_for_spark, package=shipped, run=run, log=log)
    scored = frame.mapInArrow(fn, to_spark_schema(schema)).persist(StorageLevel.DISK_ONLY)
    try:
        refused = F.col(QUARANTINE_REASON).isNotNull()
        root = layout.root
        scored.filter(~refused).select(*SCORE_COLUMNS).write.mode("overwrite").parquet(
            spark_uri(root.child("scores"))
        )
        scored.filter(refused).select(*QUARANTINE_COLUMNS).write.mode("overwrite").parquet(
            spark_uri(root.child("quarantine"))
        )
        if log is not None and layout.log_run is not None:
            scored.filter(~refused).select(f"{LOG_COLUMN}.*").write.mode("overwrite").parquet(
                spark_uri(layout.log_run)
            )
        rows = scored.groupBy(refused.alias("refused")).count().collect()
    finally:
        scored.unpersist()
    rows_in = int(spark.read.parquet(spark_uri(source)).count())
    return {bool(row["refused"]): int(row["count"]) for row in rows}, rows_in
