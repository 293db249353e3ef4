"""Serving's log output: one JSON object per line on stderr, and a filter that keeps a repeating warning to
one line.

Without a handler, Python prints only WARNING and above through its last-resort handler, as bare text: the
serving app's INFO lines (flag and mode changes, model swaps) were lost and a library's per-poll traceback
filled the log. A JSON line per record is what a log collector indexes without a parser; the `extra` fields a
call passes (`event`, `mode`, ...) become keys of that object.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime

OWN_LOGGERS = ("steelthread_serving",)
"""Loggers logged at INFO whatever uvicorn's level: their lines are the operator's record of changes."""

_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", ...extra}`; a traceback goes into `exception` as one string."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRIBUTES}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging() -> None:
    """Send every logger's records to stderr as JSON lines; the serving app's own at INFO.

    Called once by `steelthread-serve` before the app is built; uvicorn is then started without its own
    logging config, so its lines go through the same handler.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)


class RepeatFilter(logging.Filter):
    """Lets the first of a run of identical warnings (or worse) through and drops the repeats, counting them.

    For a library that logs the same error on every poll (flagd's file watcher logs a traceback per poll while
    the flag file is broken): the first record keeps its traceback, the rest only count. `reset()` ends the
    run when its cause is gone, so the next failure is logged again, and tells how many were dropped. The next
    different record that passes carries `repeats_dropped` when it ended a run.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._last: tuple[int, object] | None = None
        self._dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.levelno, record.msg)
        with self._lock:
            if key == self._last:
                self._dropped += 1
                return False
            if self._dropped:
                record.repeats_dropped = self._dropped
            self._last, self._dropped = key, 0
        return True

    def reset(self) -> int:
        """End the current run; the number of records it dropped."""
        with self._lock:
            dropped, self._last, self._dropped = self._dropped, None, 0
        return dropped
