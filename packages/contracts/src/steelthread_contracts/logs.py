"""The one log set-up of every steelthread process: one JSON object per line on stderr, and filters that keep
a repeating warning from filling the log.

Serving, monitoring, batch and the CLIs call `configure_logging` once at start-up; a server always writes JSON
lines, a CLI writes them in machine mode (stderr is not a terminal: a scheduler, CI, a pipe) and readable
text on a terminal. A JSON line per record is what a log collector indexes
without a parser; the `extra` fields a call passes (`event`, `request_id`, `mode`, `model_version`, ...)
become keys of that object. Only the standard library is used, so serving's image gains nothing.

Without a handler Python prints only WARNING and above through its last-resort handler, as bare text: the
apps' INFO lines (model swaps, flag changes, stage events) were lost.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal, TextIO

LogFormat = Literal["json", "text"]

_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


def extra_fields(record: logging.LogRecord) -> dict[str, object]:
    """The fields a call added with `extra=` (event, request_id, ...)."""
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "event"?, "message", ...extra}`; a traceback goes into `exception` as one
    string."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= extra_fields(record)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """`LEVEL logger: message key=value ...` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in extra_fields(record).items())
        text = f"{record.levelname:<7} {record.name}: {record.getMessage()}" + (
            f" [{fields}]" if fields else ""
        )
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def log_format(stream: TextIO | None = None) -> LogFormat:
    """Text on a terminal, JSON lines otherwise (the CLIs' machine mode)."""
    stream = stream or sys.stderr
    return "text" if stream.isatty() else "json"


def configure_logging(
    own_loggers: Iterable[str],
    *,
    fmt: LogFormat | None = "json",
    stream: TextIO | None = None,
) -> None:
    """Send every logger's records to `stream` (stderr); the process's own loggers at INFO, the rest at
    WARNING. `fmt=None` chooses by `log_format` (the CLIs); servers always write JSON lines."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    chosen = fmt or log_format(stream)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    for name in own_loggers:
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


class IntervalFilter(logging.Filter):
    """At most one line per kind of warning (or worse) per interval; the next line says how many were dropped.

    For a condition every request meets (the online store down, answers degraded): one line per request
    would bury everything else. A kind is the logger, level, message template and the record's `event` and
    `reason` fields, so two different degraded reasons are two kinds. The first line after an interval carries
    `repeated` (the records dropped since the previous line) and ends with "(repeated N times)".
    """

    def __init__(self, interval_s: float) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._kinds: dict[tuple[object, ...], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        fields = record.__dict__
        key = (record.name, record.levelno, record.msg, fields.get("event"), fields.get("reason"))
        now = time.monotonic()
        with self._lock:
            last, dropped = self._kinds.get(key, (float("-inf"), 0))
            if now - last < self.interval_s:
                self._kinds[key] = (last, dropped + 1)
                return False
            self._kinds[key] = (now, 0)
        if dropped:
            record.msg = f"{record.getMessage()} (repeated {dropped} times)"
            record.args = None
            record.repeated = dropped
        return True


def throttle(logger: logging.Logger, interval_s: float) -> IntervalFilter:
    """Install an `IntervalFilter` on `logger` in place of one installed before (a second app in the same
    process changes the interval rather than stacking filters)."""
    for old in [f for f in logger.filters if isinstance(f, IntervalFilter)]:
        logger.removeFilter(old)
    limiter = IntervalFilter(interval_s)
    logger.addFilter(limiter)
    return limiter
