"""Settings of the monitoring job: one object, environment prefix `STEELTHREAD_`.

Paths default to the repository's `var/` layout so a laptop run needs no configuration, and every one can
be pointed elsewhere (a mounted volume in Kubernetes) through the environment or the command line.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from steelthread_contracts.settings import DeploymentSettings


class MonitorSettings(DeploymentSettings):
    """Where the job reads and writes, and the thresholds that decide what counts as a finding."""

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
    monitor_skew_sample: int = Field(
        default=1000, ge=1, description="Logged requests whose features are recomputed by the skew check."
    )
    monitor_skew_rtol: float = Field(
        default=1e-6, ge=0, description="Relative tolerance of the skew check (served vs recomputed)."
    )
    monitor_skew_atol: float = Field(
        default=1e-6, ge=0, description="Absolute tolerance of the skew check (served vs recomputed)."
    )
