"""Monitoring that fits label delay: drift and quality on the recent window, performance on the latest cohort
whose labels have had time to arrive, reported with its label coverage; alerts on an empty window and on a
label-starved cohort, judged by the real rule file through promtool.

The worlds are time-travelled: a cohort logged a label delay ago whose labels have arrived, and a recent
window whose labels have not, in one deployment; a run as of a past `now` sees only the labels observed by
then. The declared delays are checked against the use cases' own generators.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from helpers.usecase import USE_CASE
from steelthread_contracts.usecase import USECASE_ENV, active_name
from steelthread_features.generator import generate
from steelthread_monitoring.alerts import evaluate, external_labels
from steelthread_monitoring.cli import app
from steelthread_monitoring.errors import EmptyWindowError, ExitCode
from steelthread_monitoring.job import RunOptions, cohort_message, run_monitoring
from steelthread_monitoring.synthetic import LABEL_DELAY, Deployment, write_package, write_window

END = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DELAY = timedelta(days=30)
"""The label delay these worlds are run with (a use case's own is checked against its generator below)."""
ROWS = 2000


def world(root: Path, cohort_labelled: float = 0.8, recent_labelled: float = 0.0) -> Deployment:
    """A package, a cohort logged in the 12 h before END - DELAY with `cohort_labelled` of its labels
    arrived, and a recent window (the 12 h before END) with `recent_labelled` of its labels arrived."""
    models = root / "models"
    reference = write_package(models)
    log_dir, feedback_dir = root / "prediction-log", root / "feedback"
    write_window(log_dir, feedback_dir, ROWS, END - DELAY, labelled_share=cohort_labelled, seed=21)
    write_window(log_dir, feedback_dir, ROWS, END, labelled_share=recent_labelled, seed=11)
    return Deployment(models, log_dir, feedback_dir, reference)


def options(deployment: Deployment, root: Path, **overrides: object) -> RunOptions:
    values: dict[str, object] = {
        "window": timedelta(hours=24),
        "log_dir": deployment.log_dir,
        "feedback_dir": deployment.feedback_dir,
        "models_dir": deployment.models_dir,
        "out_dir": root / "monitoring",
        "textfile": root / "textfile" / "steelthread_monitor.prom",
        "now": END,
        "label_delay": DELAY,
    }
    values.update(overrides)
    return RunOptions(**values)  # type: ignore[arg-type]


def feedback(deployment: Deployment) -> pd.DataFrame:
    frames = [pd.read_json(p, lines=True) for p in sorted(deployment.feedback_dir.glob("feedback-*.jsonl"))]
    return pd.concat(frames, ignore_index=True)


def test_the_declared_label_delay_covers_the_generators_labels() -> None:
    """Every label the active use case's generator writes arrives within its declared `label_delay`: a
    cohort that old has all the labels it will ever get."""
    data = generate(2000, seed=3)
    tables = USE_CASE.tables
    events = data.table(tables.events)[[tables.request_id, tables.event_time]]
    labels = data.table(tables.labels)[[tables.request_id, tables.label_time]]
    joined = events.merge(labels, on=tables.request_id)
    assert len(joined) > 1000
    delay = (joined[tables.label_time] - joined[tables.event_time]).dt.to_pytimedelta()
    assert min(delay) >= timedelta(0)
    assert max(delay) <= USE_CASE.label_delay
    assert max(delay) > USE_CASE.label_delay / 4  # not a delay a quarter of the declared one would cover


def test_performance_is_evaluated_on_the_matured_cohort_drift_on_the_recent_window(tmp_path: Path) -> None:
    deployment = world(tmp_path)
    outcome = run_monitoring(options(deployment, tmp_path))
    summary = outcome.summary
    assert outcome.exit_code is ExitCode.OK, summary.messages
    assert summary.rows == ROWS  # the recent window only: drift and quality
    assert (summary.window_start, summary.window_end) == (END - timedelta(hours=24), END)
    performance = summary.performance
    assert (performance.cohort_start, performance.cohort_end) == (
        END - DELAY - timedelta(hours=24),
        END - DELAY,
    )
    assert performance.label_delay_seconds == DELAY.total_seconds()
    assert performance.cohort_rows == ROWS
    arrived = feedback(deployment)["request_id"].str.startswith("syn-21-").sum()
    assert performance.labelled_rows == arrived
    assert performance.label_coverage == pytest.approx(arrived / ROWS)
    assert 0.75 < performance.label_coverage < 0.85
    assert performance.evaluated
    assert summary.messages[0] == cohort_message(performance.cohort or "")
    assert f"{arrived} of {ROWS} labelled" in summary.messages[0]
    assert "label delay 30d" in summary.messages[0]
    html = (outcome.run_dir / "performance.html").read_text()
    assert f"Label coverage: {arrived} of {ROWS} predictions of the cohort labelled" in html
    text = (tmp_path / "textfile" / "steelthread_monitor.prom").read_text()
    assert f"steelthread_monitor_cohort_rows{{{_labels(summary)}}} {float(ROWS)}" in text
    assert f"steelthread_monitor_window_records{{{_labels(summary)}}} {float(ROWS)}" in text
    assert "steelthread_monitor_label_coverage{" in text
    fired = {a.name for a in evaluate(tmp_path / "textfile" / "steelthread_monitor.prom")}
    assert not fired & {"SteelthreadLabelsStarved", "SteelthreadMonitorWindowEmpty"}, fired


def test_without_the_delay_the_unlabelled_recent_window_is_the_cohort(tmp_path: Path) -> None:
    """The same world with a zero label delay (what the job did before): nothing to evaluate, and the
    coverage of zero fires SteelthreadLabelsStarved through the real rules."""
    deployment = world(tmp_path)
    outcome = run_monitoring(options(deployment, tmp_path, label_delay=timedelta(0)))
    performance = outcome.summary.performance
    assert outcome.exit_code is ExitCode.NO_LABELS
    assert (performance.cohort_start, performance.cohort_end) == (END - timedelta(hours=24), END)
    assert (performance.cohort_rows, performance.labelled_rows, performance.label_coverage) == (ROWS, 0, 0.0)
    assert performance.reason == "0 labelled rows in the cohort, 200 needed (--min-labels)"
    fired = [a for a in evaluate(tmp_path / "textfile" / "steelthread_monitor.prom") if "Labels" in a.name]
    assert [a.name for a in fired] == ["SteelthreadLabelsStarved"]
    assert fired[0].runbook == f"{external_labels()['runbook_base']}/labels-starved.md"
    assert fired[0].annotations["description"].startswith("Only 0% of the predictions in the matured cohort")


def test_an_empty_cohort_is_reported_and_not_evaluated(tmp_path: Path) -> None:
    deployment = world(tmp_path)
    outcome = run_monitoring(options(deployment, tmp_path, label_delay=timedelta(days=90)))
    performance = outcome.summary.performance
    assert outcome.exit_code is ExitCode.NO_LABELS
    assert (performance.cohort_rows, performance.label_coverage) == (0, None)
    assert performance.reason == "no predictions logged in the cohort"
    assert "0 of 0 labelled, label coverage n/a" in outcome.summary.messages[0]
    text = (tmp_path / "textfile" / "steelthread_monitor.prom").read_text()
    assert "steelthread_monitor_label_coverage{" not in text  # nothing to be starved of
    fired = {a.name for a in evaluate(tmp_path / "textfile" / "steelthread_monitor.prom")}
    assert "SteelthreadLabelsStarved" not in fired, fired


def test_a_run_as_of_a_past_now_counts_only_the_labels_that_had_arrived(tmp_path: Path) -> None:
    """Every recent prediction gets a label LABEL_DELAY after it; a run at END sees only those observed
    by END, not the ones of the last LABEL_DELAY of the window."""
    deployment = world(tmp_path, recent_labelled=1.0)
    outcome = run_monitoring(options(deployment, tmp_path, label_delay=timedelta(0)))
    observed = pd.to_datetime(feedback(deployment)["observed_at"], utc=True)
    ids = feedback(deployment)["request_id"]
    arrived = int((ids.str.startswith("syn-11-") & (observed <= END)).sum())
    assert 0 < arrived < ROWS
    assert outcome.summary.performance.labelled_rows == arrived
    later = run_monitoring(options(deployment, tmp_path, label_delay=timedelta(0), now=END + LABEL_DELAY))
    assert later.summary.performance.labelled_rows > arrived  # the same predictions' labels, arrived since


def test_an_empty_recent_window_fires_monitor_window_empty(tmp_path: Path) -> None:
    deployment = world(tmp_path)
    with pytest.raises(EmptyWindowError):
        run_monitoring(options(deployment, tmp_path, now=END + timedelta(days=3)))
    prom = tmp_path / "textfile" / "steelthread_monitor.prom"
    assert 'steelthread_monitor_window_records{model_name="' in prom.read_text()
    fired = evaluate(prom)
    assert [a.name for a in fired] == ["SteelthreadMonitorWindowEmpty"]
    assert fired[0].runbook == f"{external_labels()['runbook_base']}/monitor-window-empty.md"
    assert fired[0].labels["severity"] == "ticket"


def test_the_cli_takes_the_label_delay_from_the_use_case_unless_told(tmp_path: Path) -> None:
    """Configured as deployed: the use case's `label_delay` (the installed script, in its own process),
    then the variable, then the option."""
    world(tmp_path)
    script = shutil.which("steelthread-monitor", path=str(Path(sys.executable).parent))
    assert script is not None
    args = ["run", "--window", "24h", f"--now={END.isoformat()}", "--labels-optional"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")}
    env |= {USECASE_ENV: active_name(), "STEELTHREAD_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [script, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    latest = tmp_path / "monitoring" / "latest" / "summary.json"
    performance = json.loads(latest.read_text())["performance"]
    assert performance["label_delay_seconds"] == USE_CASE.label_delay.total_seconds()
    assert datetime.fromisoformat(performance["cohort_end"]) == END - USE_CASE.label_delay
    assert "performance cohort: predictions logged" in result.stdout
    assert "performance cohort" not in result.stderr  # information, not a warning

    def run(*extra: str, **variables: str) -> dict[str, object]:
        shown = CliRunner().invoke(
            app, [*args, *extra], env={"STEELTHREAD_DATA_DIR": str(tmp_path), **variables}
        )
        assert shown.exit_code == 0, shown.output
        found: dict[str, object] = json.loads(latest.read_text())["performance"]
        return found

    performance = run(STEELTHREAD_MONITOR_LABEL_DELAY="30d")
    assert (performance["cohort_rows"], performance["evaluated"]) == (ROWS, True)
    performance = run("--label-delay", "0s", "--cohort-window", "6h", STEELTHREAD_MONITOR_LABEL_DELAY="30d")
    assert datetime.fromisoformat(str(performance["cohort_start"])) == END - timedelta(hours=6)
    assert performance["labelled_rows"] == 0


def _labels(summary: object) -> str:
    model_name = getattr(summary, "model_name", "")
    model_version = getattr(summary, "model_version", "")
    return f'model_name="{model_name}",model_version="{model_version}"'
