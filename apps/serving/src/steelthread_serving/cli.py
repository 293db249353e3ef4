"""`steelthread-serve`: start the API with uvicorn after checking the settings.

Settings, the flag file and the ports (the API's, and the metrics port when `STEELTHREAD_METRICS_PORT` is
set) are checked before uvicorn starts, so a bad environment, flag file or a port in use ends with one
readable line and its exit code (`ExitCode`), not a traceback from inside the server. A SIGTERM or SIGINT
stops the server gracefully (answers in flight finish, the sinks flush) and the process exits 0.
"""

from __future__ import annotations

import errno
import importlib.util
import logging
import signal
import socket
from enum import IntEnum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated
from wsgiref.simple_server import WSGIServer

import typer
import uvicorn
from prometheus_client import start_http_server
from pydantic import ValidationError

from steelthread_contracts.cli import error_line, fail
from steelthread_contracts.cli import run as run_cli
from steelthread_contracts.logs import configure_logging
from steelthread_serving.flags import FlagsError, ServingFlags
from steelthread_serving.settings import ServingSettings

if TYPE_CHECKING:  # imported when the server starts: --check-flags and a bad setting need neither
    from steelthread_serving.metrics import ServingMetrics

cli = typer.Typer(
    add_completion=False, help="Serve the steelthread prediction API.", pretty_exceptions_enable=False
)

logger = logging.getLogger("steelthread_serving.cli")

OWN_LOGGERS = ("steelthread_serving",)
"""Loggers logged at INFO whatever uvicorn's level: their lines are the operator's record of changes."""


class ExitCode(IntEnum):
    """Exit codes of `steelthread-serve` (docs/operations.md repeats them)."""

    OK = 0
    """Stopped by SIGTERM or SIGINT after a graceful shutdown, or a `--check-flags` file is usable."""
    UNEXPECTED = 1
    """A bug: please file an issue with the log."""
    USAGE = 2
    """A bad option, setting or flag file."""
    STARTUP_FAILED = 3
    """The app could not start (uvicorn's own code: the lifespan start-up failed)."""
    PORT_IN_USE = 4
    """The address could not be bound: another process holds the port, or the interface does not exist."""


def settings_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "settings"
    env = f"STEELTHREAD_{field.upper()}"
    return f"{env}: {first['msg']}"


def checked_flags(path: Path) -> str:
    """The flags a usable file sets, in words; one line and exit 2 for a file the server would refuse."""
    try:
        flags = ServingFlags(path, poll_ms=60_000)
    except FlagsError as exc:
        fail(str(exc), ExitCode.USAGE)
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
        error_line(settings_error(exc))
        raise typer.Exit(ExitCode.USAGE) from None
    if settings.prediction_log_dsn is not None and importlib.util.find_spec("psycopg") is None:
        fail(
            "STEELTHREAD_PREDICTION_LOG_DSN: the PostgreSQL sink needs psycopg",
            ExitCode.USAGE,
            hint="install steelthread-serving[postgres]",
        )
    if settings.metrics_port == port:
        fail(f"STEELTHREAD_METRICS_PORT: {port} is the API's port (--port); choose another", ExitCode.USAGE)
    # Bound before anything starts a thread (flag watcher, onnxruntime): a port in use is one line and a
    # clean exit, and no other process can take the port between this check and uvicorn's start.
    listener = bound_socket(host, port)
    from steelthread_serving.metrics import ServingMetrics

    metrics = ServingMetrics()
    exporter = None
    if settings.metrics_port is not None:
        exporter = metrics_server(host, settings.metrics_port, metrics, listener)
    configure_logging(OWN_LOGGERS)
    try:
        flags = ServingFlags(settings.flags_path, settings.flags_poll_ms)
    except FlagsError as exc:
        listener.close()
        stop_metrics_server(exporter)
        fail(f"STEELTHREAD_FLAGS_PATH: {exc}", ExitCode.USAGE)

    from steelthread_serving.app import create_app
    from steelthread_serving.http_protocol import with_header_timeout

    config = uvicorn.Config(
        create_app(settings, flags=flags, metrics=metrics),
        log_level=log_level,
        log_config=None,  # uvicorn's lines go through configure_logging's JSON handler too
        timeout_graceful_shutdown=20,
        http=with_header_timeout(settings.header_timeout_s),  # a slow client cannot hold a connection
        access_log=False,  # the app's own access log (STEELTHREAD_ACCESS_LOG) has the request's fields
    )
    # uvicorn handles SIGTERM and SIGINT itself: it stops accepting, lets answers finish and runs the
    # lifespan's shutdown (the sinks flush). Then it restores the handlers it found and raises the signal
    # again; the handler installed here makes that a log line, so a graceful stop exits 0, not 143 or 130.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, _stopped)
    try:
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        stop_metrics_server(exporter)


def _stopped(signum: int, _frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    logger.info(
        "stopped by %s after a graceful shutdown", name, extra={"event": "server_stopped", "signal": name}
    )


def metrics_server(host: str, port: int, metrics: ServingMetrics, listener: socket.socket) -> WSGIServer:
    """prometheus-client's own exposition server for the app's registry on host:port, or one error line
    and exit 4 (`listener`, the API's socket, is closed first).

    It answers from a thread of this process: `steelthread-serve` is one process (no workers), so the
    registry it reads is the one every request updates, and no multiprocess collection is needed."""
    try:
        server, _thread = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as exc:
        listener.close()
        why = "the address is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        fail(
            f"STEELTHREAD_METRICS_PORT: cannot listen on {host}:{port}: {why}",
            ExitCode.PORT_IN_USE,
            hint="stop the other server or choose another STEELTHREAD_METRICS_PORT",
        )
    return server


def stop_metrics_server(server: WSGIServer | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()


def bound_socket(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or one error line and exit 4."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no conflict
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            fail(
                f"cannot listen on {host}:{port}: the address is already in use",
                ExitCode.PORT_IN_USE,
                hint="stop the other server or choose another --port",
            )
        fail(f"cannot listen on {host}:{port}: {exc.strerror}", ExitCode.PORT_IN_USE, hint="check --host")
    sock.set_inheritable(True)
    return sock


def main() -> None:
    run_cli(cli)


if __name__ == "__main__":
    main()
