"""The PostgreSQL sink: a prediction log (and feedback store) shared by every replica, no answer waits on.

The request thread only puts the serialised record on an in-memory queue. One writer thread per sink takes
what has queued up and inserts it as one statement (steelthread_contracts.logstore: the batch as a JSON
array, `ON CONFLICT DO NOTHING` on the request id), so a busy server writes large batches and an idle one
small ones, and no request ever waits on the database.

When the database cannot take a batch (down, unreachable, past the statement timeout), the batch goes to a
local JSON-lines spill file (a `JsonlSink`, flushed per record) and the writer reconnects every
`prediction_log_retry_ms`; once connected it replays every finished spill file, then deletes it. A replay is
idempotent (the key), so a batch whose fate was unknown (the connection died mid-insert) is spilled and
replayed without ever duplicating a record. When the queue is full the request thread spills the record
itself: records are never dropped to keep the queue bounded.

Spill files are locked (`flock`) while being written, so several processes may share one spill folder: a
replay takes only files no live writer holds, and a file left by a process that died is replayed by the next
one to connect. On shutdown the queue is drained to the database, or to the spill file past the deadline.

Every outcome is counted in `steelthread_sink_records{sink, outcome}`: written, spilled, replayed,
rejected (a record the database refuses, kept in a `rejected-*` file), dropped (lost: expected to stay 0).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.rows import TupleRow
from pydantic import BaseModel

from steelthread_contracts import logstore
from steelthread_serving.metrics import ServingMetrics
from steelthread_serving.settings import ServingSettings
from steelthread_serving.sinks import JsonlSink

logger = logging.getLogger(__name__)

_LOST = (psycopg.OperationalError, psycopg.InterfaceError)
"""The connection (or the server) failed: nothing is known about the statement, the database counts as down.
A statement timeout (QueryCanceled) is one of them."""
_EMPTY_FILE_GRACE_S = 60.0
"""An empty spill file older than this was left by a writer that died before its first record."""


@dataclass(frozen=True)
class SinkTable:
    """What one sink writes: its name (metric label, spill-file prefix) and its insert statement."""

    name: str
    insert: str


PREDICTIONS = SinkTable("predictions", logstore.INSERT_PREDICTIONS)
FEEDBACK = SinkTable("feedback", logstore.INSERT_FEEDBACK)


@dataclass(frozen=True)
class PostgresOptions:
    dsn: str
    spill_dir: Path
    queue_size: int
    batch_size: int
    timeout_s: float
    retry_s: float
    spill_max_bytes: int
    shutdown_s: float = 10.0
    """The writer's share of the server's graceful shutdown: past it, what is still queued is spilled."""
    linger_s: float = 0.0
    """How long the writer waits after a record for more to join its statement (`_take` says why)."""

    @classmethod
    def from_settings(cls, settings: ServingSettings) -> PostgresOptions:
        assert settings.prediction_log_dsn is not None
        return cls(
            dsn=settings.prediction_log_dsn.get_secret_value(),
            spill_dir=settings.prediction_log_spill_dir,
            queue_size=settings.prediction_log_queue_size,
            batch_size=settings.prediction_log_batch_size,
            timeout_s=settings.prediction_log_timeout_ms / 1000,
            retry_s=settings.prediction_log_retry_ms / 1000,
            spill_max_bytes=settings.prediction_log_max_bytes,
            linger_s=settings.prediction_log_linger_ms / 1000,
        )


def connect(dsn: str, timeout_s: float) -> psycopg.Connection[TupleRow]:
    """An autocommit connection (each batch is one statement, so atomic on its own) with the timeouts that
    make a hung or unreachable server an error instead of a stuck writer, and the tables in place."""
    timeout_ms = max(1, int(timeout_s * 1000))
    conn = psycopg.connect(
        dsn,
        autocommit=True,
        connect_timeout=max(1, round(timeout_s)),
        tcp_user_timeout=timeout_ms,
        options=f"-c statement_timeout={timeout_ms}",
        application_name="steelthread-serving",
    )
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (logstore.SCHEMA_LOCK,))
            for statement in logstore.SCHEMA:
                conn.execute(statement)
    except BaseException:
        conn.close()
        raise
    return conn


class PostgresSink:
    """A `RecordSink` writing to PostgreSQL through a queue and a writer thread, spilling to a local file."""

    def __init__(self, table: SinkTable, options: PostgresOptions, metrics: ServingMetrics) -> None:
        self._table = table
        self._options = options
        self._prefix = f"{table.name}-{os.urandom(4).hex()}"
        """Spill files of this sink in this process; the random part keeps processes that share a folder
        (and a pid, in separate containers) apart."""
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._closed = False
        self._deadline = float("inf")
        self._spill_lock = threading.Lock()
        self._spill: JsonlSink | None = None
        self._rejected: JsonlSink | None = None
        self._spill_pending = threading.Event()
        self._spill_pending.set()  # files an earlier process left are replayed on the first connection
        self._inflight: list[bytes] = []
        self._conn: psycopg.Connection[TupleRow] | None = None
        self._next_connect = 0.0
        self._next_replay = 0.0
        self._was_connected = True  # so the first failure to connect is reported
        self._written = 0
        outcomes = ("written", "spilled", "replayed", "rejected", "dropped")
        self._count = {o: metrics.sink_records.labels(sink=table.name, outcome=o) for o in outcomes}
        self._connected = metrics.sink_connected.labels(sink=table.name)
        self._connected.set(0)
        metrics.sink_queue.labels(sink=table.name).set_function(self._queue.qsize)
        options.spill_dir.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name=f"pg-sink-{table.name}", daemon=True)
        self._thread.start()

    # -- the request side: never waits on the database -------------------------------------------------

    @property
    def written(self) -> int:
        """Records this sink has written to PostgreSQL (replays included)."""
        return self._written

    def append(self, record: BaseModel) -> None:
        self.append_json(record.__pydantic_serializer__.to_json(record))

    def append_json(self, line: bytes) -> None:
        if self._closed:
            raise RuntimeError("sink is closed")
        if self._queue.qsize() >= self._options.queue_size:
            self._spill_lines([line])  # an error here fails the request: the client never sees the answer
            self._count["spilled"].inc()
            return
        self._queue.put(line)

    def close(self) -> None:
        """Drain the queue to PostgreSQL (or, past the deadline or without a database, to the spill file),
        then close the spill file. Called once, at shutdown, after the last request."""
        if self._closed:
            return
        self._closed = True
        self._deadline = time.monotonic() + self._options.shutdown_s
        self._queue.put(None)
        self._thread.join(timeout=self._options.shutdown_s + self._options.timeout_s + 1)
        leftover = []
        if self._thread.is_alive():  # stuck in a call the timeouts did not end: spill what it holds
            logger.warning("prediction-log writer (%s) did not stop in time; spilling", self._table.name)
            leftover.extend(self._inflight)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                leftover.append(item)
        if leftover:
            self._spill_safely(leftover)
        with self._spill_lock:
            for sink in (self._spill, self._rejected):
                if sink is not None:
                    sink.close()
            self._spill = self._rejected = None

    # -- the writer thread -------------------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        try:
            while True:
                batch, stopping = self._take(stopping)
                if batch:
                    self._deliver(batch)
                elif stopping:
                    self._last_replay()
                    break
                if not stopping:
                    self._replay_if_due()
        except Exception:  # a bug: say so; close() spills what is still queued
            logger.exception("prediction-log writer (%s) failed", self._table.name)
        finally:
            self._disconnect()

    def _last_replay(self) -> None:
        """At shutdown, with the queue drained: replay what this process spilled while time is left, since
        a spill folder on the pod's own disk goes away with the pod."""
        if not self._spill_pending.is_set():
            return
        if self._conn is None and time.monotonic() + self._options.timeout_s < self._deadline:
            self._next_connect = 0.0
        if time.monotonic() < self._deadline:
            self._replay_if_due(force=True)

    def _take(self, stopping: bool) -> tuple[list[bytes], bool]:
        """What has queued up, at most a batch; waits for the first record unless stopping, then lingers.

        Without the linger a busy server's writer takes only the handful of records that queued during its
        last statement: each record put on the queue wakes it, and every wake-up and statement takes the
        GIL from the request thread. While
        the writer sleeps, nobody waits on the queue, so a put is only an append."""
        batch: list[bytes] = []
        if not stopping:
            try:
                first = self._queue.get(timeout=self._options.retry_s)
            except queue.Empty:
                return batch, stopping
            if first is None:
                stopping = True
            else:
                batch.append(first)
                if self._options.linger_s:
                    time.sleep(self._options.linger_s)
        while len(batch) < self._options.batch_size:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                stopping = True
            else:
                batch.append(item)
        return batch, stopping

    def _deliver(self, batch: list[bytes]) -> None:
        self._inflight = batch
        taken = None
        if time.monotonic() < self._deadline and self._connection() is not None:
            taken = self._store(batch)
        if taken is None:
            self._spill_safely(batch)
        else:
            self._written += taken
            self._count["written"].inc(taken)
        self._inflight = []

    def _connection(self) -> psycopg.Connection[TupleRow] | None:
        """The open connection, or a new one when the retry pause is over; None while the database is down."""
        if self._conn is not None and not self._conn.closed:
            return self._conn
        now = time.monotonic()
        if now < self._next_connect:
            return None
        try:
            self._conn = connect(self._options.dsn, self._options.timeout_s)
        except psycopg.Error as exc:
            self._next_connect = now + self._options.retry_s
            if self._was_connected:
                self._was_connected = False
                logger.warning(
                    "prediction-log store unreachable (%s): %s; records spill to %s",
                    self._table.name,
                    _first_line(exc),
                    self._options.spill_dir,
                )
            return None
        self._was_connected = True
        self._connected.set(1)
        self._spill_pending.set()
        self._next_replay = 0.0
        return self._conn

    def _lost(self, exc: BaseException) -> None:
        logger.warning(
            "prediction-log store lost (%s): %s; records spill to %s",
            self._table.name,
            _first_line(exc),
            self._options.spill_dir,
        )
        self._was_connected = False
        self._disconnect()
        self._next_connect = time.monotonic() + self._options.retry_s

    def _disconnect(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
        self._connected.set(0)

    def _store(self, lines: list[bytes]) -> int | None:
        """Insert `lines` (one statement): how many the database took (a record already there counts as
        taken). A batch the database refuses is retried line by line, and the lines it still refuses are
        rejected. None when the connection failed: nothing is known stored."""
        conn = self._conn
        assert conn is not None
        try:
            conn.execute(self._table.insert, (_array(lines),))
            return len(lines)
        except _LOST as exc:
            self._lost(exc)
            return None
        except psycopg.Error:
            pass
        taken = 0
        for line in lines:
            try:
                conn.execute(self._table.insert, (_array([line]),))
            except _LOST as exc:
                self._lost(exc)
                return None
            except psycopg.Error as exc:
                self._reject(line, exc)
            else:
                taken += 1
        return taken

    def _reject(self, line: bytes, exc: psycopg.Error) -> None:
        logger.error("record refused by the database (%s): %s", self._table.name, _first_line(exc))
        with self._spill_lock:
            if self._rejected is None:
                self._rejected = JsonlSink(
                    self._options.spill_dir, f"rejected-{self._prefix}", self._options.spill_max_bytes
                )
            try:
                self._rejected.append_json(line)
            except OSError as error:
                logger.error("rejected record lost (%s): %s", self._table.name, error)
                self._count["dropped"].inc()
                return
        self._count["rejected"].inc()

    # -- spilling and replaying --------------------------------------------------------------------------

    def _spill_lines(self, lines: list[bytes]) -> None:
        with self._spill_lock:
            if self._spill is None:
                self._spill = JsonlSink(
                    self._options.spill_dir, self._prefix, self._options.spill_max_bytes, lock=True
                )
            for line in lines:
                self._spill.append_json(line)
        self._spill_pending.set()

    def _spill_safely(self, lines: list[bytes]) -> None:
        """Spill from the writer (the answers have left): a failure here is a loss, counted and logged."""
        try:
            self._spill_lines(lines)
        except (OSError, RuntimeError) as exc:
            logger.error("%d prediction-log records lost (%s): %s", len(lines), self._table.name, exc)
            self._count["dropped"].inc(len(lines))
            return
        self._count["spilled"].inc(len(lines))

    def _rotate_spill(self) -> None:
        """Finish the current spill file (so a replay may take it); the next spill starts a new one."""
        with self._spill_lock:
            if self._spill is not None:
                self._spill.close()
                self._spill = None

    def _replay_if_due(self, *, force: bool = False) -> None:
        """Replay the finished spill files when some may exist, the database answers and the pause is over;
        also what reconnects a writer that has nothing else to write."""
        if not self._spill_pending.is_set():
            return
        if not force and time.monotonic() < self._next_replay:
            return
        if self._connection() is None:
            return
        self._next_replay = time.monotonic() + self._options.retry_s
        self._spill_pending.clear()
        self._rotate_spill()
        for path in sorted(self._options.spill_dir.glob(f"{self._table.name}-*.jsonl")):
            if time.monotonic() >= self._deadline or not self._replay_file(path):
                self._spill_pending.set()
                return

    def _replay_file(self, path: Path) -> bool:
        """Insert a finished spill file and delete it. False when the connection failed (the file stays)."""
        try:
            file = path.open("rb")
        except FileNotFoundError:
            return True  # another process replayed it
        with file:
            try:
                fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True  # still being written, by this process or another live one
            try:
                if os.fstat(file.fileno()).st_ino != os.stat(path).st_ino:
                    return True
            except FileNotFoundError:
                return True  # replayed and deleted by another process while this one waited
            lines = [line for line in file.read().split(b"\n") if line.strip()]
            if not lines:
                if time.time() - os.fstat(file.fileno()).st_mtime > _EMPTY_FILE_GRACE_S:
                    path.unlink(missing_ok=True)
                return True
            taken = 0
            for start in range(0, len(lines), self._options.batch_size):
                stored = self._store(lines[start : start + self._options.batch_size]) if self._conn else None
                if stored is None:
                    return False
                taken += stored
            path.unlink()  # under the lock: no other replayer can have read it meanwhile
        self._written += taken
        self._count["replayed"].inc(taken)
        logger.info("replayed %d prediction-log records from %s", taken, path.name)
        return True


def _array(lines: list[bytes]) -> str:
    """The batch as one JSON array: the statement's only parameter."""
    return (b"[" + b",".join(lines) + b"]").decode()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
