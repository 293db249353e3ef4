"""The one place that knows how the offline store reads a table.

Feast data sources are tied to the offline store's kind (FileSource for DuckDB, SparkSource for Spark);
feature views call `batch_source` and never change with the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from steelthread_features.definitions import CREATED_TIMESTAMP, EVENT_TIMESTAMP
from steelthread_features.feast_warnings import load_feast, quiet_feast
from steelthread_features.settings import FeatureSettings

if TYPE_CHECKING:
    from feast.data_source import DataSource


def table_glob(settings: FeatureSettings, table: str) -> str:
    """`<root>/<table>/*.parquet`: DuckDB needs a glob (a bare folder fails inside Feast)."""
    return f"{settings.offline_root()}/{table}/*.parquet"


def batch_source(settings: FeatureSettings, table: str) -> DataSource:
    """A batch source for one generated table, of the kind the profile's offline store reads."""
    load_feast()
    if settings.offline_store_kind == "spark":
        from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import (
            SparkSource,
        )

        with quiet_feast():
            return SparkSource(
                name=table,
                path=f"{settings.offline_root()}/{table}",
                file_format="parquet",
                timestamp_field=EVENT_TIMESTAMP,
                created_timestamp_column=CREATED_TIMESTAMP,
            )
    from feast import FileSource
    from feast.data_format import ParquetFormat

    return FileSource(
        name=table,
        path=table_glob(settings, table),
        file_format=ParquetFormat(),
        timestamp_field=EVENT_TIMESTAMP,
        created_timestamp_column=CREATED_TIMESTAMP,
    )
