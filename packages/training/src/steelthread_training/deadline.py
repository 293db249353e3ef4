"""A whole-command deadline for the promotion CLI: the last resort against a store that hangs.

Each registry call has its own timeout (`registry_timeout_s`, see tracking.py), but a database that stops
answering in the middle of a statement on an open connection is waited on by the driver with no limit (a
stopped server's kernel still acknowledges every packet, so neither TCP keepalives nor a server-side
statement timeout fire). Past the deadline the process prints one error line and ends at once
(`os._exit`): a thread stuck in a socket read cannot be interrupted, and a move stopped anywhere is
recoverable by design (the promotion journal, ADR 0013), so ending is safe.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from steelthread_contracts.cli import err


@contextmanager
def command_deadline(seconds: float, command: str, exit_code: int) -> Iterator[None]:
    """Run the body; if it is still running after `seconds`, print one line and exit with `exit_code`."""

    def expire() -> None:
        err.print(
            f"error: {command} did not finish within {seconds:g}s (the registry or its database stopped "
            "answering); `steelthread-promote status` shows what is half done, `steelthread-promote "
            "repair` finishes it",
            markup=False,
        )
        err.file.flush()
        os._exit(exit_code)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
