"""The monitoring job reading the prediction log from PostgreSQL: the same window as from the files.

The synthetic deployment's JSON lines are inserted with the statements serving's PostgreSQL sink uses
(steelthread_contracts.logstore), into a throwaway database on the real server; the window and the whole
run read from there must equal the ones read from the files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from helpers.postgres import throwaway_database
from helpers.serving import free_port
from steelthread_contracts import logstore
from steelthread_monitoring.errors import EmptyWindowError, ExitCode
from steelthread_monitoring.job import RunOptions, run_monitoring
from steelthread_monitoring.pglog import exported_window
from steelthread_monitoring.reference import load_reference
from steelthread_monitoring.synthetic import Deployment, write_package, write_window
from steelthread_monitoring.window import read_window

pytestmark = [pytest.mark.services]


@pytest.fixture(scope="module")
def module_database() -> Iterator[str]:
    with throwaway_database("steelthread_monitor_pglog") as dsn:
        yield dsn


@pytest.fixture
def database(module_database: str) -> str:
    """The module's database, with empty tables."""
    with psycopg.connect(module_database, autocommit=True) as conn:
        for statement in logstore.SCHEMA:
            conn.execute(statement)
        conn.execute(f"TRUNCATE {logstore.PREDICTION_TABLE}, {logstore.FEEDBACK_TABLE}")
    return module_database


def insert(dsn: str, statement: str, lines: list[bytes]) -> None:
    """What serving's sink does with a batch: one INSERT of the batch as a JSON array."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for start in range(0, len(lines), 500):
            conn.execute(statement, ((b"[" + b",".join(lines[start : start + 500]) + b"]").decode(),))


def lines_of(folder: Path, pattern: str) -> list[bytes]:
    return [line for path in sorted(folder.glob(pattern)) for line in path.read_bytes().splitlines() if line]


def load(dsn: str, deployment: Deployment) -> None:
    insert(dsn, logstore.INSERT_PREDICTIONS, lines_of(deployment.log_dir, "predictions-*.jsonl"))
    insert(dsn, logstore.INSERT_FEEDBACK, lines_of(deployment.feedback_dir, "feedback-*.jsonl"))


def sorted_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("request_id").reset_index(drop=True)


def test_the_window_from_postgresql_equals_the_window_from_the_files(
    deployment_factory: Callable[..., Deployment], database: str, window_end, tmp_path: Path
) -> None:
    deployment = deployment_factory("new_category")
    load(database, deployment)
    start = window_end - timedelta(hours=24)
    reference = load_reference(deployment.reference_path)
    files = read_window(
        deployment.log_dir, deployment.feedback_dir, start, window_end, reference, with_requests=True
    )
    with exported_window(database, start, window_end, tmp_path / "scratch") as (log_dir, feedback_dir):
        stored = read_window(log_dir, feedback_dir, start, window_end, reference, with_requests=True)
    assert len(stored.frame) == len(files.frame) > 0
    pd.testing.assert_frame_equal(sorted_frame(stored.frame), sorted_frame(files.frame), check_like=True)
    pd.testing.assert_frame_equal(
        sorted_frame(stored.requests), sorted_frame(files.requests), check_like=True
    )
    assert stored.labelled["label"].count() == files.labelled["label"].count() > 0
    assert (stored.unseen_columns, stored.absent_columns, stored.type_changes) == (
        files.unseen_columns,
        files.absent_columns,
        files.type_changes,
    )
    assert not list((tmp_path / "scratch").iterdir()), "the scratch copy is removed after reading"


def test_a_run_on_postgresql_reports_what_a_run_on_the_files_reports(
    deployment_factory: Callable[..., Deployment],
    options_for: Callable[..., RunOptions],
    database: str,
    tmp_path: Path,
) -> None:
    deployment = deployment_factory("input_shift")
    load(database, deployment)
    from_files = run_monitoring(options_for(deployment, tmp_path / "files"))
    from_pg = run_monitoring(
        options_for(deployment, tmp_path / "pg", log_dsn=database, log_dir=tmp_path / "nowhere")
    )
    ignore = {"run_id", "started_at", "finished_at", "log_files", "report_html", "performance_html"}
    ignore |= {"evidently_workspace"}  # each run writes under its own out folder
    assert from_pg.summary.model_dump(exclude=ignore) == from_files.summary.model_dump(exclude=ignore)
    assert from_pg.summary.drift.drifted, "the scenario's drift is found"
    assert from_pg.exit_code == from_files.exit_code
    assert from_pg.summary.log_files == [f"postgresql://127.0.0.1:5432/{database.rsplit('/', 1)[1]}"]


def test_the_matured_cohort_and_its_labels_come_from_postgresql_as_from_the_files(
    options_for: Callable[..., RunOptions], database: str, window_end, tmp_path: Path
) -> None:
    """A time-travelled world (a cohort logged 30 days ago whose labels arrived, a recent window without
    labels) stored as serving stores it: the cohort is read from PostgreSQL with its labels, and the run
    reports exactly what the run on the files reports."""
    delay = timedelta(days=30)
    models = tmp_path / "world" / "models"
    reference = write_package(models)
    log_dir, feedback_dir = tmp_path / "world" / "log", tmp_path / "world" / "feedback"
    write_window(log_dir, feedback_dir, 1500, window_end - delay, labelled_share=0.7, seed=31)
    write_window(log_dir, feedback_dir, 1500, window_end, labelled_share=0.0, seed=32)
    deployment = Deployment(models, log_dir, feedback_dir, reference)
    load(database, deployment)
    from_files = run_monitoring(options_for(deployment, tmp_path / "files", label_delay=delay))
    from_pg = run_monitoring(
        options_for(
            deployment, tmp_path / "pg", log_dsn=database, log_dir=tmp_path / "nowhere", label_delay=delay
        )
    )
    performance = from_pg.summary.performance
    assert (performance.cohort_end, performance.cohort_rows) == (window_end - delay, 1500)
    assert performance.evaluated
    assert 0.65 < (performance.label_coverage or 0.0) < 0.75
    assert from_pg.summary.rows == 1500  # the recent window: drift and quality
    ignore = {"run_id", "started_at", "finished_at", "log_files", "report_html", "performance_html"}
    ignore |= {"evidently_workspace"}  # each run writes under its own out folder
    assert from_pg.summary.model_dump(exclude=ignore) == from_files.summary.model_dump(exclude=ignore)


def test_a_request_id_is_one_prediction_in_postgresql(
    deployment_factory: Callable[..., Deployment], database: str, window_end, tmp_path: Path
) -> None:
    deployment = deployment_factory("none")
    lines = lines_of(deployment.log_dir, "predictions-*.jsonl")
    insert(database, logstore.INSERT_PREDICTIONS, lines)
    insert(database, logstore.INSERT_PREDICTIONS, lines[:100])  # a replay of records already stored
    start = window_end - timedelta(hours=24)
    with exported_window(database, start, window_end, tmp_path) as (log_dir, feedback_dir):
        window = read_window(
            log_dir, feedback_dir, start, window_end, load_reference(deployment.reference_path)
        )
    assert window.frame["request_id"].is_unique
    assert len(window.frame) == len(lines)


def test_records_come_back_as_they_were_stored(database: str, window_end, tmp_path: Path) -> None:
    """COPY's text format escapes backslashes; the export undoes it, so quotes, backslashes and non-ASCII
    text inside a record read back unchanged."""
    record = {
        "schema_version": 2,
        "logged_at": (window_end - timedelta(hours=1)).isoformat(),
        "request_id": "escapes-1",
        "entity_key": 1,
        "model_version": "1",
        "request": {"note": 'a "quoted" \\ back\\slash, a tab\t, a newline\n and é €'},
        "score": 1e-7,
    }
    insert(database, logstore.INSERT_PREDICTIONS, [json.dumps(record).encode()])
    with exported_window(database, window_end - timedelta(hours=2), window_end, tmp_path) as (log_dir, _):
        (line,) = lines_of(log_dir, "predictions-*.jsonl")
    assert json.loads(line) == record


def test_an_empty_window_in_postgresql_is_exit_4(
    deployment_factory: Callable[..., Deployment],
    options_for: Callable[..., RunOptions],
    database: str,
    tmp_path: Path,
) -> None:
    deployment = deployment_factory("none")
    options = options_for(deployment, tmp_path, log_dsn=database)
    with pytest.raises(EmptyWindowError, match="no prediction-log rows in postgresql://"):
        run_monitoring(replace(options, now=options.now - timedelta(days=30)))
    assert (tmp_path / "monitoring" / "latest" / "summary.json").is_file()


def test_an_unreachable_database_is_one_line_and_exit_7(
    deployment_factory: Callable[..., Deployment], tmp_path: Path
) -> None:
    deployment = deployment_factory("none")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")} | {
        "STEELTHREAD_DATA_DIR": str(tmp_path),
        "STEELTHREAD_MODELS_DIR": str(deployment.models_dir),
        "STEELTHREAD_PREDICTION_LOG_DSN": f"postgresql://monitor:hunter2-secret@127.0.0.1:{free_port()}/log",
    }
    script = shutil.which("steelthread-monitor", path=str(Path(sys.executable).parent))
    assert script is not None, "steelthread-monitor is not installed in the venv"
    result = subprocess.run(
        [script, "run", "--window", "24h"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == ExitCode.INVALID_INPUT, result.stderr
    # The stage lines before it are the JSON log (machine mode); the failure is one plain line.
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("{")]
    assert len(lines) == 1, result.stderr
    assert "prediction log in PostgreSQL (127.0.0.1:" in lines[0]
    assert "hunter2-secret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    explicit = subprocess.run(  # --log-dir names the folder to read: the DSN is not used
        [
            script,
            "run",
            "--window",
            "24h",
            "--now",
            "2026-11-22T12:00:00+00:00",
            "--log-dir",
            str(deployment.log_dir),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert explicit.returncode in (ExitCode.OK, ExitCode.NO_LABELS), explicit.stderr
    assert "checked 2000 rows" in explicit.stdout


def test_export_copies_a_window_to_the_files_the_runbooks_read(
    deployment_factory: Callable[..., Deployment], database: str, tmp_path: Path
) -> None:
    deployment = deployment_factory("none")
    load(database, deployment)
    script = shutil.which("steelthread-monitor", path=str(Path(sys.executable).parent))
    assert script is not None, "steelthread-monitor is not installed in the venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")} | {
        "STEELTHREAD_DATA_DIR": str(tmp_path / "var"),
        "STEELTHREAD_PREDICTION_LOG_DSN": database,
    }
    result = subprocess.run(
        [script, "export", "--window", "24h", "--now", "2026-11-22T12:00:00+00:00"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    original = [json.loads(line) for line in lines_of(deployment.log_dir, "predictions-*.jsonl")]
    exported = [
        json.loads(line) for line in lines_of(tmp_path / "var" / "prediction-log", "predictions-*.jsonl")
    ]
    assert sorted(exported, key=lambda r: r["request_id"]) == sorted(original, key=lambda r: r["request_id"])
    labels = lines_of(tmp_path / "var" / "feedback", "feedback-*.jsonl")
    assert len(labels) == len(lines_of(deployment.feedback_dir, "feedback-*.jsonl")) > 0
    assert f"exported {len(original)} records" in result.stdout
