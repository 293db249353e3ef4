"""The report says which run it is (title, use case, model version, window), plots the score and every
numerical column over the window's time, checks a category once (not also its one-hot columns), and every
run lands in an Evidently workspace that `evidently ui --workspace DIR` reads: the test opens it with
Evidently's own API and finds the runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from helpers.usecase import USE_CASE
from steelthread_monitoring.analysis import TIME_COLUMN, analyse_drift_and_quality, checked_columns
from steelthread_monitoring.job import RunOutcome, run_monitoring
from steelthread_monitoring.reference import LABEL_COLUMN, SCORE_COLUMN, Reference
from steelthread_monitoring.synthetic import plan, reference_frame, write_deployment
from steelthread_monitoring.workspace import WORKSPACE_DIR

from .conftest import END, ROWS, _options_for


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> list[RunOutcome]:
    """The job twice on one clean window with one output folder: two runs of history."""
    root = tmp_path_factory.mktemp("history")
    deployment = write_deployment(root, ROWS, END)
    return [run_monitoring(_options_for(deployment, root)) for _ in range(2)]


def test_two_runs_are_history_in_the_workspace(two_runs: list[RunOutcome]) -> None:
    from evidently.ui.workspace import Workspace

    outcomes = two_runs
    workspace = outcomes[0].run_dir.parent / WORKSPACE_DIR
    assert outcomes[0].summary.evidently_workspace == str(workspace)
    ws = Workspace(str(workspace))
    (project,) = ws.list_projects()
    assert USE_CASE.name in project.name
    runs = ws.list_runs(project.id)
    per_run = 1 + (outcomes[0].summary.performance.evaluated)
    assert len(runs) == 2 * per_run
    stored = [ws.get_run(project.id, run) for run in runs]
    names = [s.name for s in stored if s is not None]
    version = outcomes[0].summary.model_version
    assert sum("drift and data quality" in n for n in names) == 2
    assert all(f"v{version}" in n and USE_CASE.name in n for n in names)
    assert {s.metadata["window_end"] for s in stored if s is not None} == {
        outcomes[0].summary.window_end.isoformat()
    }


def test_report_carries_title_use_case_version_and_window(two_runs: list[RunOutcome]) -> None:
    summary = two_runs[-1].summary
    html = Path(summary.report_html or "").read_text()
    header = html.split('id="steelthread-report-header"', 1)[1].split("</header>", 1)[0]
    assert USE_CASE.name in header
    assert f"{summary.model_name} version {summary.model_version}" in header
    assert summary.window_start.isoformat() in header
    assert summary.window_end.isoformat() in header
    assert f"<title>steelthread monitoring: {summary.model_name} v{summary.model_version}" in html


MEAN_PLOT = " (mean +/- std)"
"""How Evidently titles the y-axis of a column's drift plot (the window's mean per bucket)."""


def _as_times(values: list[Any]) -> list[datetime]:
    """The x values as UTC datetimes, or [] when any is not a time (an index bin, a number)."""
    try:
        times = [datetime.fromisoformat(str(v)) for v in values]
    except ValueError:
        return []
    return [t if t.tzinfo else t.replace(tzinfo=UTC) for t in times]


def time_plots(widgets: Any) -> dict[str, tuple[str, list[datetime]]]:
    """Column -> (x-axis title, x values) of every drift plot in the rendered widgets whose x values are
    times (the plotly JSON Evidently writes into the report and the snapshot)."""
    found: dict[str, tuple[str, list[datetime]]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            layout, data = node.get("layout"), node.get("data")
            if isinstance(layout, dict) and isinstance(data, list):
                y_title = str(((layout.get("yaxis") or {}).get("title") or {}).get("text", ""))
                x_title = str(((layout.get("xaxis") or {}).get("title") or {}).get("text", ""))
                times = _as_times([x for trace in data for x in (trace.get("x") or [])])
                if times and y_title.endswith(MEAN_PLOT):
                    found[y_title.removesuffix(MEAN_PLOT)] = (x_title, times)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(widgets)
    return found


def _drift_widgets(run: RunOutcome) -> Any:
    from evidently.ui.workspace import Workspace

    ws = Workspace(str(run.summary.evidently_workspace))
    (project,) = ws.list_projects()
    for stored in (ws.get_run(project.id, r) for r in ws.list_runs(project.id)):
        if stored is not None and "drift and data quality" in stored.name:
            return stored.dict()["widgets"]
    raise AssertionError("no drift snapshot in the workspace")


def _assert_over(plots: dict[str, tuple[str, list[datetime]]], start: datetime, end: datetime) -> None:
    assert SCORE_COLUMN in plots, sorted(plots)
    for column, (x_title, times) in plots.items():
        assert "Index" not in x_title, (column, x_title)
        # Buckets start on the hour: the first may open before the window's first record.
        assert all(start - timedelta(hours=1) < t <= end for t in times), (column, min(times), max(times))
        assert len(set(times)) > 1, column


def test_job_report_plots_score_and_columns_over_the_window_time(two_runs: list[RunOutcome]) -> None:
    """The job gives the log's `logged_at` to Evidently: the score and every numerical column are drawn
    against the window's time in the stored snapshot (what the HTML report and `evidently ui` draw)."""
    summary = two_runs[-1].summary
    plots = time_plots(_drift_widgets(two_runs[-1]))
    _assert_over(plots, summary.window_start, summary.window_end)
    numerical = {c for c, v in reference_frame(50).items() if pd.api.types.is_numeric_dtype(v)}
    checked = set(summary.drift.feature_scores) & numerical
    assert checked, summary.drift.feature_scores
    assert checked <= set(plots), sorted(checked - set(plots))


def test_score_plot_is_over_time_only_with_the_time_column() -> None:
    """A window of known time range: its plots' x values lie in it; drop `logged_at` and no plot is over
    time any more (Evidently falls back to index bins), so the check above can fail."""
    p = plan()
    ref = reference_frame(1500)
    reference = Reference(
        frame=ref, path=Path("reference.parquet"), feature_names=list(p.features), task=p.task
    )
    start = datetime(2026, 11, 20, 6, tzinfo=UTC)
    end = start + timedelta(hours=6)
    window = reference_frame(600, seed=3).drop(columns=[LABEL_COLUMN])
    window[TIME_COLUMN] = pd.date_range(start, end, periods=len(window))
    numerical = {c for c in checked_columns(reference) if c in reference.numerical_columns}

    drift, _ = analyse_drift_and_quality(reference, window, 0.1)
    plots = time_plots(json.loads(drift.snapshot.dumps())["widgets"])
    _assert_over(plots, start, end)
    assert numerical <= set(plots)

    untimed, _ = analyse_drift_and_quality(reference, window.drop(columns=[TIME_COLUMN]), 0.1)
    assert time_plots(json.loads(untimed.snapshot.dumps())["widgets"]) == {}
    assert untimed.prediction_score == pytest.approx(drift.prediction_score)


def test_one_hot_columns_are_recognised_by_their_prefix_and_values() -> None:
    frame = pd.DataFrame(
        {
            "income": [1.0, 2.0, 3.0],
            "purpose_car": [1.0, 0.0, 0.0],
            "purpose_home": [0.0, 1.0, 1.0],
            "purpose_count": [3.0, 1.0, 2.0],  # not 0/1: a feature of its own
            "purpose": ["car", "home", "home"],
            "score": [0.1, 0.2, 0.3],
        }
    )
    reference = Reference(frame=frame, path=Path("reference.parquet"), feature_names=list(frame.columns[:4]))
    assert checked_columns(reference) == ["income", "purpose_count", "purpose"]


def test_evidently_ui_serves_the_workspace(two_runs: list[RunOutcome], tmp_path: Path) -> None:
    """`evidently ui --workspace DIR` (the command docs/monitoring.md gives) lists the run's project."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from helpers.serving import free_port

    workspace = Path(two_runs[-1].summary.evidently_workspace or "")
    port = free_port()
    evidently = Path(sys.executable).with_name("evidently")
    log = tmp_path / "evidently-ui.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(evidently), "ui", "--workspace", str(workspace), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        projects = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                projects = httpx.get(f"http://127.0.0.1:{port}/api/projects", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        assert projects is not None
        assert projects.status_code == 200
        assert any(USE_CASE.name in p["name"] for p in projects.json())
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
