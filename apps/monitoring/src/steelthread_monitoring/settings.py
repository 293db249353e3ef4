"""Settings of the monitoring job: one object, environment prefix `STEELTHREAD_`.

Paths default to the repository's `var/` layout so a laptop run needs no configuration, and every one can
be pointed elsewhere (a mounted volume in Kubernetes) through the environment or the command line.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from steelthread_monitoring.durations import parse_duration


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
    monitor_min_labels: int = Field(
        default=200, ge=1, description="Labelled rows needed before performance is evaluated."
    )
    monitor_drift_threshold: float = Field(
        default=0.1,
        gt=0,
        description="Distance (normed Wasserstein / Jensen-Shannon) at which a column counts as drifted.",
    )
    monitor_label_delay: timedelta | None = Field(
        default=None,
        description=(
            "How long after a prediction its label is expected (30m, 24h, 450d; 0s: with the prediction). "
            "Performance is evaluated on the cohort logged before now minus this. Default: the use case's "
            "label_delay."
        ),
    )
    monitor_cohort_window: timedelta | None = Field(
        default=None,
        description="Length of the performance cohort (it ends at now - label delay); default: --window.",
    )
    monitor_batch_log_dir: Path | None = Field(
        default=None,
        description=(
            "A batch run's prediction log (steelthread-batch's `<prediction_log_dir>/batch`, "
            "hive-partitioned parquet), read besides the online log with the same contract; unset: none."
        ),
    )
    monitor_offline_features_fn: str | None = Field(
        default=None,
        description=(
            "module:function recomputing features offline for the training/serving skew check (the images "
            "set steelthread_features.monitoring:recompute); unset: no skew check."
        ),
    )
    monitor_skew_sample: int = Field(default=1000, ge=1)
    monitor_skew_rtol: float = Field(default=1e-6, ge=0)
    monitor_skew_atol: float = Field(default=1e-6, ge=0)

    @field_validator("prediction_log_dsn", mode="before")
    @classmethod
    def _empty_dsn_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("monitor_label_delay", "monitor_cohort_window", mode="before")
    @classmethod
    def _duration(cls, value: object, info: ValidationInfo) -> object:
        """`450d` as the CLI spells it (pydantic's own forms, seconds or ISO 8601, still work)."""
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str) and value.strip()[-1:] in "smhdw" and value.strip()[:-1].isdigit():
            return parse_duration(value, allow_zero=info.field_name == "monitor_label_delay")
        return value

    @field_validator("monitor_offline_features_fn", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
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
