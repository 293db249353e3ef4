"""Settings of the training, promotion and audit CLIs: one object, env prefix STEELTHREAD_.

`data_dir` is the root of local state (as for serving and monitoring): the generated parquet lives in
`<data_dir>/data`, the Feast repo in `<data_dir>/feast`, MLflow in `<data_dir>/mlflow`, published model
packages in `<data_dir>/models` and the audit log in `<data_dir>/audit`, so one variable moves everything.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from steelthread_features.settings import FeatureSettings
from steelthread_training.config import default_model_name

DEFAULT_MODEL_NAME = default_model_name()
"""`registry.model_name` of the active use case's training.yaml, else `<use case>-lgbm`."""


class TrainingSettings(BaseSettings):
    """Where training reads its data and writes runs, packages and the audit trail."""

    model_config = SettingsConfigDict(env_prefix="STEELTHREAD_", extra="ignore")

    profile: Literal["local", "production"] = "local"
    data_dir: Path = Field(default=Path("var"), description="Root of local state.")
    features_data_dir: Path | None = Field(
        default=None, description="Generated parquet (offline store); default data_dir/data."
    )
    feast_dir: Path | None = Field(default=None, description="Feast repo path; default data_dir/feast.")
    models_dir: Path | None = Field(
        default=None, description="Deployment location of model packages; default data_dir/models."
    )
    audit_dir: Path | None = Field(default=None, description="Append-only audit log; default data_dir/audit.")
    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking/registry URI; default sqlite:///<data_dir>/mlflow/mlflow.db.",
    )
    mlflow_artifacts_uri: str | None = Field(
        default=None, description="Artifact root of new experiments; default <data_dir>/mlflow/artifacts."
    )
    experiment_name: str = DEFAULT_MODEL_NAME
    model_name: str = Field(default=DEFAULT_MODEL_NAME, pattern=r"^[A-Za-z0-9_.-]+$")
    training_config: Path | None = Field(
        default=None, description="YAML with validation limits, model parameters and gate floors."
    )
    actor: str | None = Field(default=None, description="Who promotes (audit log); default $USER.")
    registry_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Seconds one registry call may wait on its database or server (PostgreSQL connect and "
        "statement timeout, MLflow HTTP timeout).",
    )
    command_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="Deadline of a whole promote, rollback, status or repair command; past it the command "
        "ends with one error line and `steelthread-promote repair` finishes a half-done move.",
    )
    seed: int = 0
    offline_store_uri: str | None = None
    redis_url: str = "redis://127.0.0.1:6379/0"
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/steelthread"

    def resolved_features_data_dir(self) -> Path:
        return self.features_data_dir or self.data_dir / "data"

    def resolved_feast_dir(self) -> Path:
        return self.feast_dir or self.data_dir / "feast"

    def resolved_models_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    def resolved_audit_dir(self) -> Path:
        return self.audit_dir or self.data_dir / "audit"

    def resolved_tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.data_dir / 'mlflow' / 'mlflow.db').resolve()}"

    def resolved_artifacts_uri(self) -> str:
        if self.mlflow_artifacts_uri:
            return self.mlflow_artifacts_uri
        return (self.data_dir / "mlflow" / "artifacts").resolve().as_uri()

    def resolved_actor(self) -> str:
        if self.actor:
            return self.actor
        try:
            return os.environ.get("USER") or getpass.getuser()
        except (KeyError, OSError):
            return "unknown"

    def feature_settings(self) -> FeatureSettings:
        """The feature library's settings for the same deployment (its own data_dir is the parquet folder)."""
        return FeatureSettings(
            profile=self.profile,
            data_dir=self.resolved_features_data_dir(),
            feast_dir=self.resolved_feast_dir(),
            offline_store_uri=self.offline_store_uri,
            redis_url=self.redis_url,
            postgres_dsn=self.postgres_dsn,
        )
