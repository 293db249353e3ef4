"""`steelthread-serve`: start the API with uvicorn after checking the settings.

Settings and the flag file are checked before uvicorn starts so a bad environment or flag file ends with one
readable line and exit code 2, not a traceback from inside the server (which exits 3).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError

from steelthread_contracts.settings import exit_on_unknown_variables
from steelthread_serving.flags import FlagsError, ServingFlags
from steelthread_serving.logs import configure_logging
from steelthread_serving.settings import ServingSettings

cli = typer.Typer(add_completion=False, help="Serve the steelthread prediction API.")


def settings_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "settings"
    env = f"STEELTHREAD_{field.upper()}"
    return f"error: {env}: {first['msg']}"


def checked_flags(path: Path) -> str:
    """The flags a usable file sets, in words; one line and exit 2 for a file the server would refuse."""
    try:
        flags = ServingFlags(path, poll_ms=60_000)
    except FlagsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        return flags.current().describe()
    finally:
        flags.close()


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to bind.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    check_flags: Annotated[
        Path | None,
        typer.Option(
            help="Only check this flag file the way the server reads it, print the flags it sets and exit "
            "(0: usable, 2: not). Needs no other setting.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Start the server (the flag file decides the serving mode)."""
    if check_flags is not None:
        typer.echo(f"{check_flags}: {checked_flags(check_flags)}")
        return
    try:
        settings = ServingSettings()
    except ValidationError as exc:
        typer.echo(settings_error(exc), err=True)
        raise typer.Exit(2) from None
    if settings.prediction_log_dsn is not None and importlib.util.find_spec("psycopg") is None:
        typer.echo(
            "error: STEELTHREAD_PREDICTION_LOG_DSN: the PostgreSQL sink needs psycopg "
            "(install steelthread-serving[postgres])",
            err=True,
        )
        raise typer.Exit(2)
    configure_logging()
    try:
        flags = ServingFlags(settings.flags_path, settings.flags_poll_ms)
    except FlagsError as exc:
        typer.echo(f"error: STEELTHREAD_FLAGS_PATH: {exc}", err=True)
        raise typer.Exit(2) from None

    from steelthread_serving.app import create_app

    uvicorn.run(
        create_app(settings, flags=flags),
        host=host,
        port=port,
        log_level=log_level,
        log_config=None,  # uvicorn's lines go through configure_logging's JSON handler too
        timeout_graceful_shutdown=20,
        access_log=False,
    )


def main() -> None:
    exit_on_unknown_variables()
    cli()


if __name__ == "__main__":
    main()
