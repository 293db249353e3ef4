"""The batch app's one settings object (env prefix STEELTHREAD_).

The feature store is configured by the feature library's own settings (same environment variables), so
batch and training always read the same offline store.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from steelthread_contracts.settings import DeploymentSettings

Engine = Literal["local", "spark"]
Device = Literal["cpu", "cuda"]


class BatchSettings(DeploymentSettings):
    """Settings of `steelthread-batch`; CLI options override the matching fields."""

    batch_engine: Engine = Field(default="local", description="local (embedded) or spark.")
    spark_master: str | None = Field(
        default=None,
        description="Spark master URL for --engine spark; default: spark-submit's master, else local[*].",
    )
    batch_rows_per_part: int = Field(
        default=500_000,
        ge=1,
        description="Rows per output part: the unit of atomic commit and of resume (local engine).",
    )
    batch_arrow_rows: int = Field(
        default=65_536, ge=1, description="Rows per Arrow record batch handed to the scorer."
    )
    batch_threads: int = Field(
        default=0, ge=0, description="onnxruntime intra-op threads per process; 0 = onnxruntime's default."
    )
    spark_shuffle_partitions: int = Field(default=8, ge=1, description="spark.sql.shuffle.partitions.")
    spark_driver_memory: str = Field(default="2g", description="spark.driver.memory (local mode).")
