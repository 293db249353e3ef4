"""Settings of the training, promotion and audit CLIs: one object, env prefix STEELTHREAD_.

`data_dir` is the state root of every app (steelthread_contracts.settings): the generated parquet lives in
`tables_dir`, the Feast repo in `feast_dir`, published model packages in `models_dir` and the audit log in
`audit_dir`, each a folder under `data_dir` unless set; MLflow defaults to `<data_dir>/mlflow`.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from pydantic import Field

from steelthread_features.settings import FeatureSettings
from steelthread_training.config import default_model_name

DEFAULT_MODEL_NAME = default_model_name()
"""`registry.model_name` of the active use case's training.yaml, else `<use case>-lgbm`."""


class TrainingSettings(FeatureSettings):
    """Where training reads its data and writes runs, packages and the audit trail.

    Training runs the feature library, so it reads the same variables (the deployment layout and Feast's
    stores) plus its own.
    """

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
    seed: int = Field(default=0, description="Seed of the split, the model and the sampling.")

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
        """The feature library's settings for the same deployment."""
        return FeatureSettings(**{name: getattr(self, name) for name in FeatureSettings.model_fields})
