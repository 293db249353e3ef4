"""`steelthread-monitor retention`: prediction-log records and labels older than the retention go, from the
JSON-lines folders, batch runs' partitions and PostgreSQL alike; newer ones stay; a retention shorter than
the use case's label delay is refused with one line and exit 7."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from helpers.postgres import throwaway_database
from steelthread_contracts import logstore
from steelthread_contracts.usecase import active
from steelthread_monitoring.cli import app
from steelthread_monitoring.errors import ExitCode

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
DAYS = max(30, active().label_delay.days + 1)


@pytest.fixture
def database() -> Iterator[str]:
    with throwaway_database("steelthread_retention") as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for statement in logstore.SCHEMA:
                conn.execute(statement)
        yield dsn


def _file(path: Path, written: datetime) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"request_id": "x"}\n')
    os.utime(path, (written.timestamp(), written.timestamp()))
    return path


def _retention(data_dir: Path, dsn: str | None = None, days: int = DAYS) -> tuple[int, str]:
    env = {
        "STEELTHREAD_DATA_DIR": str(data_dir),
        "STEELTHREAD_PREDICTION_LOG_RETENTION_DAYS": str(days),
    }
    if dsn is not None:
        env["STEELTHREAD_PREDICTION_LOG_DSN"] = dsn
    result = CliRunner().invoke(
        app, ["retention", f"--now={NOW.isoformat()}"], env=env, catch_exceptions=False
    )
    return result.exit_code, result.output


def test_records_past_the_retention_go_everywhere_and_newer_ones_stay(tmp_path: Path, database: str) -> None:
    old, new = NOW - timedelta(days=DAYS + 2), NOW - timedelta(days=DAYS - 2)
    log, feedback, spill = (
        tmp_path / "prediction-log",
        tmp_path / "feedback",
        tmp_path / "prediction-log-spill",
    )
    gone = [
        _file(log / "predictions-old.jsonl", old),
        _file(feedback / "feedback-old.jsonl", old),
        _file(spill / "predictions-spill-old.jsonl", old),
    ]
    kept = [_file(log / "predictions-new.jsonl", new), _file(feedback / "feedback-new.jsonl", new)]
    old_day = log / "batch" / f"date={old:%Y-%m-%d}" / "run=a"
    new_day = log / "batch" / f"date={new:%Y-%m-%d}" / "run=b"
    _file(old_day / "part-00000.parquet", old)
    _file(new_day / "part-00000.parquet", new)
    with psycopg.connect(database, autocommit=True) as conn:
        for request_id, at in (("r-old", old), ("r-new", new)):
            conn.execute(
                f"INSERT INTO {logstore.PREDICTION_TABLE} (request_id, logged_at, record) VALUES (%s, %s, '{{}}')",
                (request_id, at),
            )
            conn.execute(
                f"INSERT INTO {logstore.FEEDBACK_TABLE} (request_id, observed_at, record) VALUES (%s, %s, '{{}}')",
                (request_id, at),
            )

    code, output = _retention(tmp_path, database)
    assert code == 0, output
    assert "3 files, 1 batch partitions, 1 prediction rows, 1 feedback rows" in output
    assert not any(p.exists() for p in gone)
    assert all(p.exists() for p in kept)
    assert not old_day.parent.exists()
    assert new_day.exists()
    with psycopg.connect(database) as conn:
        left = conn.execute(f"SELECT request_id FROM {logstore.PREDICTION_TABLE}").fetchall()
        labels = conn.execute(f"SELECT request_id FROM {logstore.FEEDBACK_TABLE}").fetchall()
    assert left == [("r-new",)]
    assert labels == [("r-new",)]

    code, output = _retention(tmp_path, database)  # nothing more to delete: a repeated run is a no-op
    assert code == 0, output
    assert "0 files, 0 batch partitions, 0 prediction rows, 0 feedback rows" in output


def test_a_retention_shorter_than_the_label_delay_is_refused(tmp_path: Path) -> None:
    delay = active().label_delay
    if delay <= timedelta(days=1):  # a use case whose labels come at once accepts any retention
        code, output = _retention(tmp_path, days=1)
        assert code == 0, output
        return
    kept = _file(tmp_path / "prediction-log" / "predictions-old.jsonl", NOW - timedelta(days=3650))
    code, output = _retention(tmp_path, days=delay.days - 1)
    assert code == ExitCode.INVALID_INPUT
    assert output.strip().splitlines()[-1].startswith("error: ")
    assert "shorter than the use case's label delay" in output
    assert kept.exists()
