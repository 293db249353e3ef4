"""The report says which run it is (title, use case, model version, window), checks a
category once (not also its one-hot columns), and every run lands in an Evidently workspace that
`evidently ui --workspace DIR` reads: the test opens it with Evidently's own API and finds the runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from helpers.usecase import USE_CASE
from steelthread_monitoring.analysis import checked_columns
from steelthread_monitoring.job import RunOutcome, run_monitoring
from steelthread_monitoring.reference import Reference
from steelthread_monitoring.synthetic import write_deployment
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
