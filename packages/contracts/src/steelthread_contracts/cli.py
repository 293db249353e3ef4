"""What every steelthread command line shares (features, data, train, promote, audit, batch, serve, monitor):
one `error:` line with an exit status and, where there is one, a hint, instead of a traceback; one way to
read times and durations; plain output when the output is not a terminal; stage progress.

An exception class with an integer `exit_code` (e.g. `steelthread_training.errors.TrainingError`,
`steelthread_monitoring.errors.MonitorError`) is an operator-facing error: its message is printed as it is,
followed by its `hint` when it has one, and the process exits with that status. Any other exception exits 1
with its type name in front of the message.

Needs the `cli` extra (Typer and Rich); the rest of the contracts package does not import this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import NoReturn, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from steelthread_contracts import durations
from steelthread_contracts.logs import configure_logging
from steelthread_contracts.settings import exit_on_unknown_variables

P = ParamSpec("P")
R = TypeVar("R")

# soft_wrap: a long path or command is never broken across lines; Rich drops colours and styles by itself
# when the stream is not a terminal, so piped output is plain text.
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

STAGE_EVENT = "stage"
"""The `event` of a log record that starts a stage of a long job (the monitoring run's stages)."""


class CliError(Exception):
    """An operator-facing failure of a command: one line, its exit code, a hint when there is one."""

    exit_code: int = 1

    def __init__(self, message: str, *, exit_code: int | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
        self.hint = hint


def _exit_code(exc: BaseException) -> int | None:
    code = getattr(exc, "exit_code", None)
    return int(code) if isinstance(code, int) else None


def one_line(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        return f"invalid setting {where}: {first['msg']}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if _exit_code(exc) is None:
        text = f"{type(exc).__name__}: {text}"
    hint = getattr(exc, "hint", None)
    if isinstance(hint, str) and hint:
        text = f"{text[:600]} (hint: {hint})"
    return text[:800]


def error_line(message: str, hint: str | None = None) -> None:
    """Print the one `error:` line on stderr."""
    text = " ".join(message.split())
    err.print(f"error: {text}" + (f" (hint: {hint})" if hint else ""), markup=False)


def fail(message: str, code: int, hint: str | None = None) -> NoReturn:
    """Print the one `error:` line and end the command with `code`."""
    error_line(message, hint)
    raise typer.Exit(code)


def cli_errors(func: Callable[P, R]) -> Callable[P, R]:
    """A bad parameter -> 2; an error with its own `exit_code` -> that; anything else -> 1; always one
    readable line on stderr."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except typer.BadParameter as exc:
            err.print(f"error: {' '.join(exc.format_message().split())}", markup=False)
            raise typer.Exit(2) from None
        except Exception as exc:
            err.print(f"error: {one_line(exc)}", markup=False)
            raise typer.Exit(_exit_code(exc) or 1) from None

    return wrapper


def run(app: typer.Typer) -> None:
    """Run a Typer app so that usage errors are one `error:` line (exit 2) too, never Typer's boxed panel,
    Ctrl-C is one line (exit 130), never a traceback, and an unknown STEELTHREAD_* variable is refused
    before anything runs."""
    exit_on_unknown_variables()
    # Warnings (any logger) as JSON lines in machine mode, as text on a terminal; a command that reports its
    # own progress in the log (monitor, batch, serve) sets its loggers to INFO again itself.
    configure_logging((), fmt=None)
    try:
        result = app(standalone_mode=False)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except (typer.Abort, KeyboardInterrupt):
        err.print("error: interrupted", markup=False)
        raise SystemExit(130) from None
    except typer.TyperException as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":
            raise SystemExit(2) from None  # typer has already printed the help
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        err.print(f"error: {' '.join(message.split())}{hint}", markup=False)
        raise SystemExit(getattr(exc, "exit_code", 2)) from None
    if isinstance(result, int) and result:
        raise SystemExit(result)


def parse_time(text: str, option: str | None = None) -> datetime:
    """ISO 8601; a time without a zone is UTC; `now` is now. `option` names the flag in the error.

    The one reader of every `--at`, `--end`, `--start`, `--now` style option."""
    if text.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 time (e.g. 2026-11-22T10:00:00Z) or `now`", param_hint=option
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str, option: str | None = None, allow_zero: bool = False) -> timedelta:
    """'90s', '30m', '24h', '7d', '2w' -> timedelta (`steelthread_contracts.durations`, which settings read
    too), as a usage error naming the option: the one reader of every `--window` style option."""
    try:
        return durations.parse_duration(text, allow_zero)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


class _StageHandler(logging.Handler):
    def __init__(self, progress: Progress, task: TaskID) -> None:
        super().__init__(logging.INFO)
        self.progress, self.task, self.started = progress, task, False

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "event", None) != STAGE_EVENT:
            return
        if self.started:
            self.progress.advance(self.task)
        self.started = True
        self.progress.update(self.task, description=record.getMessage())


@contextmanager
def stage_progress(logger: str, total: int | None = None) -> Iterator[None]:
    """Show the stages `logger` announces (records with `event="stage"`) as a Rich progress bar on a
    terminal. Elsewhere nothing is drawn: the stage records themselves are the plain progress lines."""
    if not err.is_terminal:
        yield
        return
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True
    )
    task = progress.add_task("starting", total=total)
    handler = _StageHandler(progress, task)
    source = logging.getLogger(logger)
    source.addHandler(handler)
    if source.getEffectiveLevel() > logging.INFO:
        source.setLevel(logging.INFO)
    quiet = _NotStages()  # the bar shows them; the log handlers' lines would tear it
    for other in logging.getLogger().handlers:
        other.addFilter(quiet)
    try:
        with progress:
            yield
    finally:
        source.removeHandler(handler)
        for other in logging.getLogger().handlers:
            other.removeFilter(quiet)


class _NotStages(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "event", None) != STAGE_EVENT
