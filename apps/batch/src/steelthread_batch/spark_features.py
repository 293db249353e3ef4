"""Point-in-time features on Spark: Feast's Spark offline store plus the feature library's transform.

Feast's `SparkRetrievalJob.to_spark_df()` returns the point-in-time join of the batch views but not the
on-demand (request-time) view, which Feast would only apply after collecting to pandas on the driver. So
the join stays in Spark and the use case's request-time transform (`on_demand.frame`), the very function the
on-demand view runs, is applied per Arrow batch on the executors. Columns are then put in
the feature service's order, so the result matches `training_frame` column for column.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from steelthread_batch.columns import QUARANTINE_REASON
from steelthread_batch.errors import BatchInputError
from steelthread_batch.validation import row_reasons

if TYPE_CHECKING:
    from steelthread_features.settings import FeatureSettings

ROW_ID = "steelthread_row_id"


def _with_reasons(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        reasons = row_reasons(batch).array()
        yield pa.RecordBatch.from_arrays(
            [*batch.columns, reasons], schema=batch.schema.append(pa.field(QUARANTINE_REASON, pa.string()))
        )


def _request_time_features(
    batches: Iterator[pa.RecordBatch], schema: pa.Schema, names: Sequence[str]
) -> Iterator[pa.RecordBatch]:
    """Append the request-time features (float64) computed by the use case's transform."""
    from steelthread_contracts.usecase import active, load_hook

    transform = load_hook(active().on_demand.frame)
    for batch in batches:
        computed = transform(batch.to_pandas())
        arrays = [batch.column(f.name).cast(f.type) for f in schema if f.name in batch.schema.names]
        arrays += [pa.array(computed[n].to_numpy(dtype="float64"), type=pa.float64()) for n in names]
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def check_spark_settings(settings: FeatureSettings | None) -> FeatureSettings:
    from steelthread_features.settings import FeatureSettings

    resolved = settings or FeatureSettings()
    if resolved.offline_store_kind != "spark":
        raise BatchInputError(
            "the Spark engine reads features through Feast's Spark offline store: set "
            "STEELTHREAD_OFFLINE_STORE_KIND=spark and run `steelthread-features apply` for that profile"
        )
    return resolved


def point_in_time(spark: Any, entities: Any, settings: FeatureSettings | None, with_slices: bool) -> Any:
    """Entity columns (in order) plus the feature service's features (plus slices), as a Spark DataFrame."""
    from steelthread_features import store
    from steelthread_features.definitions import FEATURE_NAMES, SLICE_COLUMNS, USE_CASE
    from steelthread_features.feast_warnings import quiet_feast

    resolved = check_spark_settings(settings)
    stored = USE_CASE.on_demand.stored_inputs
    refs = [
        f"{view.name}:{c}"
        for view in USE_CASE.views
        for c in view.columns
        if c in view.served or c in stored or (with_slices and c in view.slices)
    ]
    numeric = [f for view in USE_CASE.views for f in view.served]
    feature_store = store.get_store(resolved)
    with quiet_feast(), warnings.catch_warnings():
        # Feast announces its Spark store as "experimental" on every call; the join itself is tested here.
        warnings.filterwarnings("ignore", message="The spark offline store", category=RuntimeWarning)
        job: Any = feature_store.get_historical_features(entity_df=entities, features=refs)
        joined = job.to_spark_df()  # SparkRetrievalJob: the join stays in Spark
    from pyspark.sql import functions as F  # noqa: N812
    from pyspark.sql.types import DoubleType

    for name in numeric:
        joined = joined.withColumn(name, F.col(name).cast(DoubleType()))
    from steelthread_batch.spark_engine import to_arrow_schema, to_spark_schema

    in_schema = to_arrow_schema(joined.schema)
    computed = USE_CASE.on_demand.features
    out_schema = pa.schema([*in_schema, *(pa.field(n, pa.float64()) for n in computed)])
    with_computed = joined.mapInArrow(
        partial(_request_time_features, schema=out_schema, names=computed),
        to_spark_schema(out_schema),
    )
    entity_columns = list(entities.columns)
    return with_computed.select(*entity_columns, *FEATURE_NAMES, *(SLICE_COLUMNS if with_slices else ()))


def join_features(
    spark: Any, frame: Any, feature_names: Sequence[str], settings: FeatureSettings | None
) -> Any:
    """The scoring input with features joined; rows with unusable keys are quarantined, not joined."""
    from pyspark.sql import functions as F  # noqa: N812
    from pyspark.sql.types import DoubleType

    from steelthread_batch.spark_engine import to_arrow_schema, to_spark_schema

    in_schema = to_arrow_schema(frame.schema)
    marked_schema = in_schema.append(pa.field(QUARANTINE_REASON, pa.string()))
    marked = frame.mapInArrow(_with_reasons, to_spark_schema(marked_schema))
    refused = F.col(QUARANTINE_REASON).isNotNull()
    valid = marked.filter(~refused).drop(QUARANTINE_REASON)
    joined = point_in_time(spark, valid, settings, with_slices=False)
    joined = joined.select(*frame.columns, *feature_names).withColumn(
        QUARANTINE_REASON, F.lit(None).cast("string")
    )
    invalid = marked.filter(refused)
    for name in feature_names:
        invalid = invalid.withColumn(name, F.lit(None).cast(DoubleType()))
    return joined.unionByName(invalid.select(*joined.columns))
