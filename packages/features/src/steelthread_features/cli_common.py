"""What every steelthread CLI shares (features, data, batch, train, promote, audit): one `error:` line and a
distinct exit status instead of a traceback.

An exception class with an integer `exit_code` (e.g. `steelthread_training.errors.TrainingError`) is an
operator-facing error: its message is printed as it is and the process exits with that status. Any other
exception exits 1 with its type name in front of the message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from steelthread_contracts.settings import exit_on_unknown_variables

P = ParamSpec("P")
R = TypeVar("R")

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _exit_code(exc: BaseException) -> int | None:
    code = getattr(type(exc), "exit_code", None)
    return code if isinstance(code, int) else None


def one_line(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        return f"invalid setting {where}: {first['msg']}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if _exit_code(exc) is not None:
        return text[:600]
    return f"{type(exc).__name__}: {text}"[:600]


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
    """Usage errors become one `error:` line (exit 2) too, and so does an unknown STEELTHREAD_* variable."""
    exit_on_unknown_variables()
    try:
        result = app(standalone_mode=False)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        err.print("error: aborted", markup=False)
        raise SystemExit(1) from None
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
    """ISO 8601; a time without a zone is UTC; `now` is now. `option` names the flag in the error."""
    if text.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 time (e.g. 2026-11-22T10:00:00Z)", param_hint=option
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
