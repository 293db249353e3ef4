"""Read a window of the prediction log (and its labels) from PostgreSQL, with the same contract as from files.

Serving's PostgreSQL sink stores every record whole (steelthread_contracts.logstore: a `jsonb` column keyed
by request id, so each prediction is there once). This module copies the records logged in the window, and
the labels that have arrived for them, into JSON-lines files in a scratch folder (COPY streams them, so
memory stays flat whatever the window's size) and hands that folder to `read_window`: one reader, one set
of checks (schema version, types, labels) whichever store the log lives in.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import psycopg
from psycopg import conninfo
from psycopg.rows import TupleRow

from steelthread_contracts import logstore
from steelthread_monitoring.errors import InvalidInputError
from steelthread_monitoring.window import FEEDBACK_GLOB, PREDICTION_GLOB

CONNECT_TIMEOUT_S = 10


def export_window(
    dsn: str, start: datetime, end: datetime, log_dir: Path, feedback_dir: Path
) -> tuple[int, int]:
    """Write the records logged in [start, end) to `log_dir/predictions-window.jsonl` and the labels that
    have arrived for them to `feedback_dir/feedback-window.jsonl`: (records, labels). Also what an operator
    runs (`steelthread-monitor export`) to use the runbooks' file commands on the PostgreSQL log."""
    log_dir.mkdir(parents=True, exist_ok=True)
    feedback_dir.mkdir(parents=True, exist_ok=True)
    try:
        with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True) as conn:
            with (log_dir / PREDICTION_GLOB.replace("*", "window")).open("wb") as out:
                rows = _copy(conn, logstore.COPY_WINDOW, (start, end), out)
            with (feedback_dir / FEEDBACK_GLOB.replace("*", "window")).open("wb") as out:
                labels = _copy(conn, logstore.COPY_WINDOW_FEEDBACK, (start, end), out)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(
            f"prediction log in PostgreSQL ({describe(dsn)}) unreadable: {first}"
        ) from exc
    return rows, labels


@contextmanager
def exported_window(dsn: str, start: datetime, end: datetime, scratch: Path) -> Iterator[tuple[Path, Path]]:
    """(log folder, feedback folder) holding the window's records and their labels as JSON lines, in a
    scratch folder removed on exit. An empty window is the reader's to judge, as for files (the job then
    writes its summary and exits 4)."""
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pglog-", dir=scratch) as tmp:
        log_dir, feedback_dir = Path(tmp) / "log", Path(tmp) / "feedback"
        export_window(dsn, start, end, log_dir, feedback_dir)
        yield log_dir, feedback_dir


def _copy(
    conn: psycopg.Connection[TupleRow], statement: str, params: tuple[datetime, datetime], out: BinaryIO
) -> int:
    """COPY's text format escapes each backslash of a row as two (a `jsonb` document has no raw tab or
    newline, the only other characters it escapes): undoing that gives the JSON text back, one per line."""
    rows = 0
    with conn.cursor() as cursor, cursor.copy(statement, params) as copy:
        for row in copy:
            out.write(bytes(row).replace(b"\\\\", b"\\"))
            rows += 1
    return rows


def describe(dsn: str) -> str:
    """host:port/database of a DSN, never its password."""
    try:
        parts = conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "an unparsable DSN"
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"
