"""Settings of the monitoring job: one object, environment prefix `STEELTHREAD_`.

Paths default to the repository's `var/` layout so a laptop run needs no configuration, and every one can
be pointed elsewhere (a mounted volume in Kubernetes) through the environment or the command line.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from steelthread_monitoring.drift import DRIFT_THRESHOLD


class MonitorSettings(BaseSettings):
    """Where the job reads and writes, and the thresholds that decide what counts as a finding."""

    model_config = SettingsConfigDict(env_prefix="STEELTHREAD_", extra="ignore")

    data_dir: Path = Path("var")
    models_dir: Path | None = None
    prediction_log_dir: Path | None = None
    prediction_log_dsn: SecretStr | None = Field(
        default=None,
        description=(
            "postgresql:// URL of the prediction log and feedback store serving writes to; when set, the "
            "window is read from it (an explicit --log-dir still wins). Needs the `postgres` extra."
        ),
    )
    feedback_dir: Path | None = None
    monitoring_dir: Path | None = Field(
        default=None, description="Where per-run report.html and summary.json go."
    )
    monitor_textfile: Path | None = Field(
        default=None, description="node-exporter textfile collector file (*.prom) to write."
    )
    monitor_pushgateway: str | None = Field(default=None, description="Pushgateway base URL.")
    monitor_workspace: Path | None = Field(
        default=None,
        description="Evidently workspace every run is added to (`evidently ui --workspace DIR` shows the "
        "history); default `<monitoring_dir>/evidently-workspace`.",
    )
    monitor_min_labels: int = Field(
        default=200, ge=1, description="Labelled rows needed before performance is evaluated."
    )
    monitor_drift_threshold: float = Field(
        default=DRIFT_THRESHOLD,
        gt=0,
        description=(
            "Distance (normed Wasserstein / Jensen-Shannon) at which a column or the score counts as "
            "drifted; the drift alert rules use the same number."
        ),
    )
    monitor_skew_sample: int = Field(default=1000, ge=1)
    monitor_skew_rtol: float = Field(default=1e-6, ge=0)
    monitor_skew_atol: float = Field(default=1e-6, ge=0)

    @field_validator("prediction_log_dsn", mode="before")
    @classmethod
    def _empty_dsn_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _derive_paths(self) -> MonitorSettings:
        """Paths not set explicitly live under data_dir, so one variable moves a whole deployment."""
        if self.models_dir is None:
            self.models_dir = self.data_dir / "models"
        if self.prediction_log_dir is None:
            self.prediction_log_dir = self.data_dir / "prediction-log"
        if self.feedback_dir is None:
            self.feedback_dir = self.data_dir / "feedback"
        if self.monitoring_dir is None:
            self.monitoring_dir = self.data_dir / "monitoring"
        return self
