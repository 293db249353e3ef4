"""The Spark engine: the same scorer under `mapInArrow`, the package shipped to every executor.

Spark's own output committer makes each folder appear complete or not at all; a run killed midway is
restarted as a whole (same run id, folders overwritten) and `_SUCCESS` at the output root is written only
after the row accounting holds. The local engine's part-level resume is what one machine needs; on a
cluster Spark retries failed tasks itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from steelthread_batch.columns import (
    ENTITY_KEY,
    EVENT_TIME_ALIAS,
    EVENT_TIMESTAMP,
    QUARANTINE_COLUMNS,
    QUARANTINE_REASON,
    REQUEST_FIELDS,
    REQUEST_ID,
    SCORE_COLUMNS,
    output_schema,
)
from steelthread_batch.errors import BatchInputError
from steelthread_batch.inputs import check_schema, input_fingerprint, open_input
from steelthread_batch.package import ModelPackage
from steelthread_batch.prediction_log import log_batches, prediction_log_schema
from steelthread_batch.run import RunSummary, package_identity, start_or_resume
from steelthread_batch.scoring import RunInfo, scorer
from steelthread_batch.spark_session import spark_session
from steelthread_batch.storage import Location, locate
from steelthread_contracts.privacy import NO_POLICY, LogPolicy

if TYPE_CHECKING:
    from steelthread_features.settings import FeatureSettings


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
    spark = spark_session(
        job.master, shuffle_partitions=job.shuffle_partitions, driver_memory=job.driver_memory
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
    run = RunInfo(run_id=run_id, started_at=started_at, threads=job.threads)
    in_schema = to_arrow_schema(frame.schema)
    scored_schema = output_schema(in_schema, job.package)
    scored = frame.mapInArrow(scorer(shipped, run), to_spark_schema(scored_schema))
    scored = scored.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        refused = F.col(QUARANTINE_REASON).isNotNull()
        root = layout.root
        scored.filter(~refused).select(*SCORE_COLUMNS).write.mode("overwrite").parquet(
            spark_uri(root.child("scores"))
        )
        scored.filter(refused).select(*QUARANTINE_COLUMNS).write.mode("overwrite").parquet(
            spark_uri(root.child("quarantine"))
        )
        if layout.log_run is not None:
            log_schema = prediction_log_schema(scored_schema, job.package.feature_names, job.log_policy)
            log_fn = partial(
                log_batches, feature_names=job.package.feature_names, role=job.role, policy=job.log_policy
            )
            scored.mapInArrow(log_fn, to_spark_schema(log_schema)).write.mode("overwrite").parquet(
                spark_uri(layout.log_run)
            )
        counts = scored.groupBy(refused.alias("refused")).count().collect()
    finally:
        scored.unpersist()
    by_kind = {bool(row["refused"]): int(row["count"]) for row in counts}
    rows_in = int(spark.read.parquet(spark_uri(source)).count())
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
