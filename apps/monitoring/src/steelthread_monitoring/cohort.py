"""Labelled production rows for the evaluation store and the live comparisons, read by the monitoring reader.

One reader (`window.read_window`: files, or the PostgreSQL log through `pglog`) joins the prediction log with
the labels that have arrived, deduplicated on request id, with every contract check of the monitoring job.
Reading it with a version's reference gives that version's logged score per request, whether it answered
or shadowed, so:

- `cohort` is the labelled rows of a time range (request id, the logged features, the slice columns, the
  label), the dataset every registered version is re-scored on (`steelthread-eval backfill`);
- `paired` is the rows both the champion and a challenger scored (shadow), with both logged scores: what
  the paired test compares;
- `arms` is, per answering version, the rows it answered (canary or A/B), with the answered score and the
  label where one arrived: what the experiment checks count and compare.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from steelthread_monitoring.errors import EmptyWindowError, ExitCode, MonitorError
from steelthread_monitoring.reference import LABEL_COLUMN, SCORE_COLUMN, Reference
from steelthread_monitoring.settings import MonitorSettings
from steelthread_monitoring.window import ENTITY_FIELD, Window, read_window
from steelthread_training.evalstore import Dataset


class NoLabelsError(MonitorError):
    """The rows are there, but too few of them have labels yet for a verdict."""

    exit_code = ExitCode.NO_LABELS


@dataclass(frozen=True)
class LogSource:
    """Where the prediction log and the labels are: folders, or the PostgreSQL log when a DSN is set."""

    log_dir: Path
    feedback_dir: Path
    dsn: str | None
    scratch: Path

    @staticmethod
    def of(
        settings: MonitorSettings, log_dir: Path | None = None, feedback_dir: Path | None = None
    ) -> LogSource:
        """The settings' log (`--log-dir` names a folder to read instead of the PostgreSQL log)."""
        use_dsn = log_dir is None and settings.prediction_log_dsn is not None
        return LogSource(
            log_dir=log_dir or settings.prediction_log_dir,
            feedback_dir=feedback_dir or settings.feedback_dir,
            dsn=settings.prediction_log_dsn.get_secret_value()
            if use_dsn and settings.prediction_log_dsn
            else None,
            scratch=settings.monitoring_dir,
        )

    @contextmanager
    def folders(self, start: datetime, end: datetime) -> Iterator[tuple[Path, Path]]:
        if self.dsn is None:
            yield self.log_dir, self.feedback_dir
            return
        from steelthread_monitoring.pglog import exported_window

        with exported_window(self.dsn, start, end, self.scratch) as folders:
            yield folders


def _window(
    folders: tuple[Path, Path], start: datetime, end: datetime, reference: Reference, now: datetime
) -> Window:
    log_dir, feedback_dir = folders
    return read_window(log_dir, feedback_dir, start, end, reference, labels_until=now)


def cohort_name(start: datetime, end: datetime) -> str:
    return f"cohort:{start.astimezone(UTC):%Y-%m-%dT%H:%MZ}..{end.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


def cohort(
    source: LogSource,
    start: datetime,
    end: datetime,
    reference: Reference,
    *,
    now: datetime | None = None,
    min_rows: int = 1,
) -> Dataset:
    """The labelled rows logged in [start, end): request id, the reference's columns the log carries
    (features, slices) and the label."""
    with source.folders(start, end) as folders:
        window = _window(folders, start, end, reference, now or datetime.now(UTC))
    if window.empty:
        raise EmptyWindowError(f"no prediction-log rows between {start.isoformat()} and {end.isoformat()}")
    labelled = window.labelled
    if len(labelled) < min_rows:
        raise NoLabelsError(
            f"{len(labelled)} of {len(window.frame)} rows logged between {start.isoformat()} and "
            f"{end.isoformat()} have labels; at least {min_rows} needed"
        )
    columns = ["request_id", *(c for c in reference.monitored_columns if c in labelled.columns), LABEL_COLUMN]
    frame = labelled[columns].sort_values("request_id", kind="stable").reset_index(drop=True)
    return Dataset(cohort_name(start, end), "cohort", frame, start, end)


def paired(
    source: LogSource,
    start: datetime,
    end: datetime,
    champion: Reference,
    challenger: Reference,
    *,
    now: datetime | None = None,
) -> pd.DataFrame:
    """The labelled requests both versions scored (one answered, the other shadowed), one row each:
    request_id, label, `champion` and `challenger` (their logged scores), and the slice columns."""
    at = now or datetime.now(UTC)
    with source.folders(start, end) as folders:
        first = _window(folders, start, end, champion, at)
        second = _window(folders, start, end, challenger, at)
    if first.empty or second.empty:
        raise EmptyWindowError(f"no prediction-log rows between {start.isoformat()} and {end.isoformat()}")
    left = first.labelled.rename(columns={SCORE_COLUMN: "champion"})
    right = second.labelled[["request_id", SCORE_COLUMN]].rename(columns={SCORE_COLUMN: "challenger"})
    rows = left.merge(right, on="request_id", how="inner")
    rows = rows[rows["champion"].notna() & rows["challenger"].notna()]
    keep = ["request_id", LABEL_COLUMN, "champion", "challenger", "logged_at"]
    return rows[keep].sort_values("request_id", kind="stable").reset_index(drop=True)


def arms(
    source: LogSource,
    start: datetime,
    end: datetime,
    references: dict[str, Reference],
    *,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Every logged request in [start, end) answered by one of `references`' versions: request_id, the
    entity key, `arm` (the answering version), the answered score, whether the answer was degraded and the
    label (NaN until it arrives)."""
    at = now or datetime.now(UTC)
    parts = []
    with source.folders(start, end) as folders:
        for version, reference in references.items():
            window = _window(folders, start, end, reference, at)
            if window.empty:
                continue
            frame = window.frame
            mine = frame[frame["model_version"] == version]
            columns = ["request_id", ENTITY_FIELD, SCORE_COLUMN, LABEL_COLUMN, "logged_at", "degraded"]
            part = mine[columns].copy()
            part["arm"] = version
            parts.append(part)
    if not parts:
        raise EmptyWindowError(f"no prediction-log rows between {start.isoformat()} and {end.isoformat()}")
    return pd.concat(parts, ignore_index=True).sort_values("logged_at", kind="stable").reset_index(drop=True)
