"""Failures of a monitoring run, each with its own process exit code.

A scheduler (Kubernetes CronJob, GitHub Actions) only sees the exit code, so every condition an operator
must tell apart gets a distinct one. The table is repeated in docs/monitoring.md; keep both in step.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of `steelthread-monitor run`."""

    OK = 0
    """Report, summary and gauges written; every check ran."""
    UNEXPECTED = 1
    """A bug: one `error:` line names the exception; please file an issue."""
    USAGE = 2
    """Bad command-line option (Typer/Click's own code)."""
    MISSING_REFERENCE = 3
    """No reference dataset: alias pointer, package or reference.parquet absent. Nothing written."""
    EMPTY_WINDOW = 4
    """No prediction-log rows in the window. Only rows_checked=0 and window_records=0, the duplicate and
    malformed record counts, the run timestamp and the model age are exported."""
    NO_LABELS = 5
    """Run completed, but performance was not evaluated (too few labels in the matured cohort, one class only,
    or a task this job does not evaluate yet)."""
    UNSEEN_COLUMNS = 6
    """Run completed on the shared columns, but the log has feature columns the reference lacks."""
    INVALID_INPUT = 7
    """Unreadable log/feedback/reference, a label the task refuses, an unknown log schema_version, or a file
    whose records change a column's type between lines. A malformed line is skipped and counted instead."""
    EXPORT_FAILED = 8
    """Report written, but the gauges could not be written to the textfile or pushed to the gateway."""


GAUGES_COMPLETE: frozenset[ExitCode] = frozenset({ExitCode.OK, ExitCode.NO_LABELS, ExitCode.EMPTY_WINDOW})
"""Exit codes after which the exported gauges describe the whole window, so the alert rules can judge them
(with NO_LABELS only the performance gauges are absent, and the performance alert stays silent; with
EMPTY_WINDOW only the counts exist, `window_records` is 0 and SteelthreadMonitorWindowEmpty fires). After any
other code the run itself needs a person."""


class MonitorError(Exception):
    """A condition that ends the run with a one-line message and a specific exit code."""

    exit_code: ExitCode = ExitCode.UNEXPECTED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MissingReferenceError(MonitorError):
    exit_code = ExitCode.MISSING_REFERENCE


class EmptyWindowError(MonitorError):
    exit_code = ExitCode.EMPTY_WINDOW


class InvalidInputError(MonitorError):
    exit_code = ExitCode.INVALID_INPUT


class ExportError(MonitorError):
    exit_code = ExitCode.EXPORT_FAILED
