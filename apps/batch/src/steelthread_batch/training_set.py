"""`training-set`: the training frame at scale, with `training_frame`'s columns and order.

Local: the feature library's `training_frame` (DuckDB offline store) part by part, so memory is bounded by
one part. Spark: Feast's Spark offline store over SparkSources (see `spark_features`), the entity frame read
as a Spark DataFrame and the result written straight to parquet. Either way the output folder appears
complete or not at all: it is written, `_SUCCESS` last, under a hidden temporary name and renamed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from steelthread_batch.columns import ENTITY_KEY, EVENT_TIME_ALIAS, EVENT_TIMESTAMP
from steelthread_batch.errors import BatchInputError
from steelthread_batch.inputs import open_input, part_batches, plan_parts
from steelthread_batch.output import SUCCESS_FILE
from steelthread_batch.storage import Location, locate

if TYPE_CHECKING:
    from steelthread_features.settings import FeatureSettings


@dataclass(frozen=True)
class TrainingSetJob:
    entities_uri: str
    output_uri: str
    engine: str = "local"
    master: str | None = None
    with_slices: bool = False
    rows_per_part: int = 1_000_000
    shuffle_partitions: int = 8
    driver_memory: str = "2g"
    feature_settings: FeatureSettings | None = None


@dataclass(frozen=True)
class TrainingSetResult:
    output: str
    rows: int
    columns: list[str]
    seconds: float


def _prepare_output(output: Location) -> Location:
    if output.exists():
        raise BatchInputError(f"output {output.uri} already exists; choose a new output folder")
    parent, _, name = output.path.rstrip("/").rpartition("/")
    staging = Location(f"{parent}/.tmp-{name}", output.fs, f"{parent}/.tmp-{name}")
    if staging.exists():  # left by a killed run: nothing in it was ever visible as output
        staging.fs.delete_dir(staging.path)
    return staging


def _check_entities(schema: pa.Schema) -> None:
    names = schema.names
    if EVENT_TIMESTAMP not in names and EVENT_TIME_ALIAS not in names:
        raise BatchInputError(f"entities are missing column {EVENT_TIMESTAMP!r}")
    if ENTITY_KEY not in names:
        raise BatchInputError(f"entities are missing column {ENTITY_KEY!r}")


def build_training_set(job: TrainingSetJob) -> TrainingSetResult:
    started = time.perf_counter()
    source = locate(job.entities_uri)
    dataset = open_input(source)
    _check_entities(dataset.schema)
    output = locate(job.output_uri)
    staging = _prepare_output(output)
    if job.engine == "spark":
        rows, columns = _spark(job, source, staging)
    else:
        rows, columns = _local(job, dataset, staging)
    # `_SUCCESS` travels with the folder: the rename makes the frame and its marker appear together.
    staging.child(SUCCESS_FILE).write_json({"rows": rows, "columns": columns, "engine": job.engine})
    staging.fs.move(staging.path, output.path)
    return TrainingSetResult(output.uri, rows, columns, round(time.perf_counter() - started, 3))


def _local(job: TrainingSetJob, dataset: ds.FileSystemDataset, staging: Location) -> tuple[int, list[str]]:
    from steelthread_features import store
    from steelthread_features.validation import FeatureInputError, entity_frame

    staging.mkdir()
    rows = 0
    columns: list[str] = []
    for part in plan_parts(dataset, job.rows_per_part):
        table = pa.Table.from_batches(list(part_batches(dataset, part, dataset.schema.names, 65_536)))
        frame = table.to_pandas()
        if EVENT_TIMESTAMP not in frame.columns:
            frame = entity_frame(frame)
        try:
            result = store.training_frame(frame, settings=job.feature_settings, with_slices=job.with_slices)
        except FeatureInputError as exc:
            raise BatchInputError(f"entities: {exc}") from None
        out = pa.Table.from_pandas(result, preserve_index=False).replace_schema_metadata(None)
        pq.write_table(out, f"{staging.path}/{part.name}.parquet", filesystem=staging.fs, compression="zstd")
        rows += out.num_rows
        columns = out.column_names
    return rows, columns


def _spark(job: TrainingSetJob, source: Location, staging: Location) -> tuple[int, list[str]]:
    from pyspark.sql import functions as F  # noqa: N812

    from steelthread_batch.spark_engine import spark_uri
    from steelthread_batch.spark_features import ROW_ID, check_spark_settings, point_in_time
    from steelthread_batch.spark_session import spark_session

    settings = check_spark_settings(job.feature_settings)
    spark = spark_session(
        job.master, shuffle_partitions=job.shuffle_partitions, driver_memory=job.driver_memory
    )
    entities = spark.read.parquet(spark_uri(source))
    if EVENT_TIMESTAMP not in entities.columns:
        entities = entities.withColumnRenamed(EVENT_TIME_ALIAS, EVENT_TIMESTAMP)
    bad = entities.filter(F.col(ENTITY_KEY).isNull() | F.col(EVENT_TIMESTAMP).isNull()).limit(1).count()
    if bad:
        raise BatchInputError(f"entities have rows without {ENTITY_KEY} or {EVENT_TIMESTAMP}")
    columns = list(entities.columns)
    entities = entities.withColumn(ROW_ID, F.monotonically_increasing_id())
    frame = point_in_time(spark, entities, settings, job.with_slices)
    ordered = frame.orderBy(ROW_ID).drop(ROW_ID)
    ordered.write.mode("overwrite").parquet(spark_uri(staging))
    rows = int(spark.read.parquet(spark_uri(staging)).count())
    out_columns = [c for c in ordered.columns]
    if out_columns[: len(columns)] != columns:
        raise BatchInputError(f"Spark join changed the entity columns: {out_columns[: len(columns)]}")
    return rows, out_columns
