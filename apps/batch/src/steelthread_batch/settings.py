"""The batch app's one settings object (env prefix STEELTHREAD_).

The feature store is configured by the feature library's own settings (same environment variables), so
batch and training always read the same offline store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Engine = Literal["local", "spark"]
Device = Literal["cpu", "cuda"]


class BatchSettings(BaseSettings):
    """Settings of `steelthread-batch`; CLI options override the matching fields."""

    model_config = SettingsConfigDict(env_prefix="STEELTHREAD_", extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path("var"), description="Root of local state (models, logs).")
    models_dir: Path | None = Field(
        default=None, description="Deployment location of model packages; default data_dir/models."
    )
    prediction_log_dir: Path | None = Field(
        default=None, description="Prediction-log folder; batch writes under <dir>/batch/."
    )
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

    def resolved_models_dir(self) -> Path:
        return self.models_dir if self.models_dir is not None else self.data_dir / "models"

    def resolved_prediction_log_dir(self) -> Path:
        if self.prediction_log_dir is not None:
            return self.prediction_log_dir
        return self.data_dir / "prediction-log"
