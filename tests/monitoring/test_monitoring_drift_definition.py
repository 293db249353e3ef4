"""One drift definition (steelthread_monitoring.drift): the column table, the report's headline, summary.json
and the alert Prometheus fires agree, on the demo's situation too: a part of the window shifted in one
column, so that one column drifts moderately, the score moves, and the drifted share stays small. Before,
that column read "Detected", the headline "Dataset Drift is NOT detected" and the alert that fired was
prediction drift, whose runbook says no input column drifted."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from steelthread_monitoring.alerts import MODEL_RULES, firing_alerts
from steelthread_monitoring.drift import DRIFT_THRESHOLD
from steelthread_monitoring.job import RunOptions, RunOutcome
from steelthread_monitoring.settings import MonitorSettings
from steelthread_monitoring.synthetic import plan, write_deployment, write_window

from .conftest import END

CLEAN_ROWS, SHIFTED_ROWS = 1600, 400
ROOT = Path(__file__).resolve().parents[2]


def rules() -> dict[str, str]:
    doc = yaml.safe_load(MODEL_RULES.read_text())
    return {r.get("alert") or r["record"]: r["expr"] for g in doc["groups"] for r in g["rules"]}


def test_the_rules_use_the_jobs_drift_threshold() -> None:
    exprs = rules()
    for name in ("steelthread_monitor:input_drift", "SteelthreadPredictionDrift"):
        thresholds = {float(t) for t in re.findall(r">=\s*([0-9.]+)", exprs[name])}
        assert thresholds == {DRIFT_THRESHOLD}, name
    assert MonitorSettings().monitor_drift_threshold == DRIFT_THRESHOLD
    assert RunOptions.__dataclass_fields__["drift_threshold"].default == DRIFT_THRESHOLD


@pytest.fixture(scope="module")
def partly_shifted(tmp_path_factory: pytest.TempPathFactory) -> RunOutcome:
    from steelthread_monitoring.job import run_monitoring

    root = tmp_path_factory.mktemp("partly-shifted")
    deployment = write_deployment(root, CLEAN_ROWS, END)
    write_window(deployment.log_dir, deployment.feedback_dir, SHIFTED_ROWS, END, "input_shift", seed=12)
    return run_monitoring(
        RunOptions(
            window=timedelta(hours=24),
            log_dir=deployment.log_dir,
            feedback_dir=deployment.feedback_dir,
            models_dir=deployment.models_dir,
            out_dir=root / "monitoring",
            textfile=root / "steelthread_monitor.prom",
            now=END,
        )
    )


def test_a_partly_shifted_column_is_input_drift_everywhere(partly_shifted: RunOutcome) -> None:
    summary = partly_shifted.summary
    shifted = plan().shift_column
    drift = summary.drift
    assert drift.drifted == [shifted], drift.feature_scores
    # The demo's situation: one column of many, the score moved too.
    assert drift.drift_share < 0.25
    assert drift.prediction_score is not None
    assert drift.prediction_score >= DRIFT_THRESHOLD
    html = Path(summary.report_html or "").read_text()
    assert "Dataset Drift is detected" in html
    assert "Dataset Drift is NOT detected" not in html
    textfile = partly_shifted.run_dir.parent.parent / "steelthread_monitor.prom"
    assert firing_alerts(textfile) == ["SteelthreadInputDrift"]


def test_an_unshifted_window_is_no_drift_anywhere(tmp_path: Path) -> None:
    from steelthread_monitoring.job import run_monitoring

    deployment = write_deployment(tmp_path, CLEAN_ROWS, END)
    outcome = run_monitoring(
        RunOptions(
            window=timedelta(hours=24),
            log_dir=deployment.log_dir,
            feedback_dir=deployment.feedback_dir,
            models_dir=deployment.models_dir,
            out_dir=tmp_path / "monitoring",
            textfile=tmp_path / "steelthread_monitor.prom",
            now=END,
        )
    )
    assert outcome.summary.drift.drifted == []
    assert "Dataset Drift is NOT detected" in Path(outcome.summary.report_html or "").read_text()
    assert firing_alerts(tmp_path / "steelthread_monitor.prom") == []
