"""Retention of the prediction log and feedback: records older than the retention setting
(`STEELTHREAD_PREDICTION_LOG_RETENTION_DAYS`) are deleted wherever they live (`steelthread-monitor
retention`, run by the monitor workflow).

A JSON-lines file goes once its last write (its modification time) is before the cutoff: every record in it
is older then (a file is only ever appended to, and rotates by size). A batch run's log goes by its
`date=YYYY-MM-DD` partition, the day the run scored. PostgreSQL rows go by `logged_at` (predictions) and
`observed_at` (labels). The retention may not be shorter than the use case's label delay: a label would then
arrive for a prediction already deleted, and performance could never be judged.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from steelthread_contracts.logstore import FEEDBACK_TABLE, PREDICTION_TABLE
from steelthread_monitoring.errors import InvalidInputError

PATTERNS = ("*.jsonl",)
"""Files of the JSON-lines log, feedback and spill folders (the sinks' names end so)."""
BATCH_FOLDER = "batch"
PARTITION = "date="


@dataclass(frozen=True)
class Deleted:
    """What one retention run removed."""

    cutoff: datetime
    files: int
    partitions: int
    prediction_rows: int
    feedback_rows: int

    def line(self) -> str:
        return (
            f"deleted records older than {self.cutoff:%Y-%m-%dT%H:%M:%SZ}: {self.files} files, "
            f"{self.partitions} batch partitions, {self.prediction_rows} prediction rows, "
            f"{self.feedback_rows} feedback rows"
        )


def check_retention(days: int, label_delay: timedelta) -> timedelta:
    """The retention as a duration, refused when labels could arrive after their prediction is deleted."""
    keep = timedelta(days=days)
    if keep < label_delay:
        raise InvalidInputError(
            f"retention of {days} days is shorter than the use case's label delay ({label_delay.days} days): "
            "labels would arrive for deleted predictions"
        )
    return keep


def delete_files(folders: list[Path], cutoff: datetime) -> int:
    """Delete the JSON-lines files last written before `cutoff` in each folder (not recursively)."""
    deleted = 0
    limit = cutoff.timestamp()
    for folder in folders:
        if not folder.is_dir():
            continue
        for pattern in PATTERNS:
            for path in folder.glob(pattern):
                if path.is_file() and path.stat().st_mtime < limit:
                    path.unlink()
                    deleted += 1
    return deleted


def delete_partitions(log_dir: Path, cutoff: datetime) -> int:
    """Delete `<log_dir>/batch/date=D` partitions whose whole day is before `cutoff`."""
    root = log_dir / BATCH_FOLDER
    if not root.is_dir():
        return 0
    deleted = 0
    for folder in root.glob(f"{PARTITION}*"):
        try:
            day = datetime.strptime(folder.name.removeprefix(PARTITION), "%Y-%m-%d").replace(
                tzinfo=cutoff.tzinfo
            )
        except ValueError:
            continue  # not a partition this app wrote: left alone
        if day + timedelta(days=1) <= cutoff:
            shutil.rmtree(folder)
            deleted += 1
    return deleted


def delete_rows(dsn: str, cutoff: datetime) -> tuple[int, int]:
    """Delete PostgreSQL prediction rows logged, and labels observed, before `cutoff`."""
    import psycopg

    with psycopg.connect(dsn, connect_timeout=10) as conn:
        predictions = conn.execute(
            f"DELETE FROM {PREDICTION_TABLE} WHERE logged_at < %s",  # noqa: S608 - constant table name
            (cutoff,),
        ).rowcount
        labels = conn.execute(
            f"DELETE FROM {FEEDBACK_TABLE} WHERE observed_at < %s",  # noqa: S608 - constant table name
            (cutoff,),
        ).rowcount
    return predictions, labels


def apply_retention(
    *,
    now: datetime,
    keep: timedelta,
    log_dir: Path,
    feedback_dir: Path,
    spill_dir: Path,
    dsn: str | None,
) -> Deleted:
    """Delete everything older than `now - keep` from the folders and, when configured, PostgreSQL."""
    cutoff = now - keep
    files = delete_files([log_dir, feedback_dir, spill_dir], cutoff)
    partitions = delete_partitions(log_dir, cutoff)
    rows = delete_rows(dsn, cutoff) if dsn is not None else (0, 0)
    return Deleted(
        cutoff=cutoff, files=files, partitions=partitions, prediction_rows=rows[0], feedback_rows=rows[1]
    )
