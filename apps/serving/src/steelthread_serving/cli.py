"""`steelthread-serve`: start the API with uvicorn after checking the settings.

Settings are validated before uvicorn starts so a bad environment ends with one readable line and exit code 2,
not a traceback from inside the server.
"""

from __future__ import annotations

import importlib.util
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError

from steelthread_serving.settings import ServingSettings

cli = typer.Typer(add_completion=False, help="Serve the steelthread prediction API.")


def settings_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "settings"
    env = f"STEELTHREAD_{field.upper()}"
    return f"error: {env}: {first['msg']}"


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to bind.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Start the server (the flag file decides the serving mode)."""
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
    if not settings.flags_path.is_file():
        typer.echo(f"error: STEELTHREAD_FLAGS_PATH: file not found: {settings.flags_path}", err=True)
        raise typer.Exit(2)

    from steelthread_serving.app import create_app

    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=20,
        access_log=False,
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
