"""Append-only record sinks for the prediction log and feedback.

A sink is an interface so production can write to Postgres while local runs write JSON lines. The JSON-lines
sink writes and flushes each record before the answer leaves the server, so a SIGTERM (or a crash after the
answer) never loses a record that a client saw; rotation starts a new file past a size limit. The PostgreSQL
sink (steelthread_serving.pgsink) uses one as its spill file while the database is unreachable.
"""

from __future__ import annotations

import fcntl
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from pydantic import BaseModel


class RecordSink(Protocol):
    def append(self, record: BaseModel) -> None: ...

    def append_json(self, line: bytes) -> None:
        """Append one record already serialised as JSON (no newline): the prediction hot path builds
        its records as plain dicts, because a pydantic model per record cost more than the answer."""
        ...

    def close(self) -> None: ...

    @property
    def written(self) -> int: ...


class JsonlSink:
    """Thread-safe JSON-lines writer; files are named `<prefix>-<UTC time>-<pid>-<seq>.jsonl`.

    `lock=True` holds an exclusive `flock` on each file while it is open, so another process (or thread) can
    tell a file still being written from a finished one: the spill files a replay may take and delete.
    """

    def __init__(self, directory: Path, prefix: str, max_bytes: int, *, lock: bool = False) -> None:
        self._dir = directory
        self._lock_files = lock
        self._prefix = prefix
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._seq = 0
        self._written = 0
        self._size = 0
        self._dir.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO | None = self._open()

    def _open(self) -> BinaryIO:
        self._size = 0
        while True:
            self._seq += 1
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            path = self._dir / f"{self._prefix}-{stamp}-{os.getpid()}-{self._seq:04d}.jsonl"
            if not self._lock_files:
                return path.open("ab")
            # A locked file is always a new one: appending to a file of the same name that an earlier sink
            # of this process finished would race a replay that is reading it and about to delete it (the
            # lines written meanwhile would go to the deleted file).
            try:
                file = path.open("xb")
            except FileExistsError:
                continue
            fcntl.flock(file.fileno(), fcntl.LOCK_EX)
            return file

    @property
    def written(self) -> int:
        return self._written

    @property
    def current_path(self) -> Path | None:
        return Path(self._file.name) if self._file else None

    def append(self, record: BaseModel) -> None:
        self.append_json(record.__pydantic_serializer__.to_json(record))

    def append_json(self, line: bytes) -> None:
        line += b"\n"
        with self._lock:
            if self._file is None:
                raise RuntimeError("sink is closed")
            if self._size and self._size + len(line) > self._max_bytes:
                self._file.close()
                self._file = self._open()
            self._file.write(line)
            self._file.flush()
            self._size += len(line)
            self._written += 1

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
                self._file = None
