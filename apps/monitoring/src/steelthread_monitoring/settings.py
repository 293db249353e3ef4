"""Settings of the monitoring job: one object, environment prefix `STEELTHREAD_`.

Paths default to the repository's `var/` layout so a laptop run needs no configuration, and every one can
be pointed elsewhere (a mounted volume in Kubernetes) through the environment or the command line.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from steelthread_contracts import usecase
from steelthread_contracts.durations import parse_duration
from steelthread_contracts.settings import DeploymentSettings
from steelthread_monitoring.drift import DRIFT_THRESHOLD


class MonitorSettings(DeploymentSettings):
    """Where the job reads and writes, and the thresholds that decide what counts as a finding."""

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
    monitor_skew_sample: int = Field(
        default=1000, ge=1, description="Logged requests whose features are recomputed by the skew check."
    )
    monitor_skew_rtol: float = Field(
        default=1e-6, ge=0, description="Relative tolerance of the skew check (served vs recomputed)."
    )
    monitor_skew_atol: float = Field(
        default=1e-6, ge=0, description="Absolute tolerance of the skew check (served vs recomputed)."
    )

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

    def label_delay(self) -> timedelta:
        """How long labels take to arrive: STEELTHREAD_MONITOR_LABEL_DELAY, else the active use case's
        declaration, else zero where no use case is installed (the recent window is then the cohort).
        The monitoring run, the retention check and the evaluation backfill all read it here."""
        if self.monitor_label_delay is not None:
            return self.monitor_label_delay
        try:
            return usecase.active().label_delay
        except usecase.UseCaseError:
            return timedelta(0)
