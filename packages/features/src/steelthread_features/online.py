"""Online feature vectors read straight from the store Feast materialised, without importing Feast.

Why not `FeatureStore.get_online_features` on the request path: `import feast` costs seconds even with
bytecode compiled, and every call spends several times the read itself resolving the registry and
building a response around it (bench/bench_features.py; figures in bench/RESULTS.md). Serving needs
neither, so this module reads the active use case's batch views itself, in Feast's storage layout:
entity keys serialised as Feast's version 3, tables `<project>_<view>` (SQLite) or one hash per entity
key + project with murmur3 field names (Redis), values as Feast's `ValueProto`. Every name (join key,
views, features, request fields, the row transform) comes from the use case's declaration, resolved once
at import into the tuples the per-request code walks. The layout is Feast's, not ours, so
`tests/features/test_features_online.py` checks this reader against `get_online_features` on both
profiles, and the `feast` engine of `store.online_vector` stays available as the reference.

Everything after the read (request-time transforms, TTLs, missing values) is shared with the Feast
engines, so all engines return identical vectors.
"""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
import struct
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
from google.protobuf.timestamp_pb2 import Timestamp

from steelthread_contracts import PredictionRequest
from steelthread_contracts.usecase import load_hook
from steelthread_features.definitions import (
    APPLICATION_FEATURES,
    FEATURE_NAMES,
    FEATURE_VIEW_OF,
    JOIN_KEY,
    REQUEST_FIELDS,
    USE_CASE,
    VIEW_TTLS,
)
from steelthread_features.errors import FeatureInputError, FeatureRetrievalError

if TYPE_CHECKING:
    import redis
    import redis.asyncio

    from steelthread_features.settings import FeatureSettings

_STORED_INPUTS = USE_CASE.on_demand.stored_inputs
ONLINE_VIEWS: dict[str, tuple[str, ...]] = {
    view.name: (*view.served, *(c for c in view.columns if c in _STORED_INPUTS and c not in view.served))
    for view in USE_CASE.views
    if view.served or any(c in _STORED_INPUTS for c in view.columns)
}
"""The batch inputs of the feature service per view (its served features, then the stored columns the
request-time transform reads, e.g. a string it one-hot encodes); the request-time features are computed
from these and the request. A view that serves nothing online (slices only) is not read."""
_TRANSFORM_ROW = load_hook(USE_CASE.on_demand.row)

Value = str | float | None
TIMESTAMP = "__ts"
"""Suffix of a view's event-time column in a raw read (Feast's `to_dict(include_event_timestamps)` name)."""


@dataclass(frozen=True)
class OnlineVector:
    """One request's features in the feature service's order; missing values are None and listed."""

    entity_id: int
    """The request's entity key (the value of the use case's join key, `definitions.JOIN_KEY`)."""
    values: dict[str, float | None]
    missing: tuple[str, ...]

    def as_array(self) -> np.ndarray:
        """float32 row for an ONNX tensor; missing values become NaN."""
        return np.array([np.nan if v is None else v for v in self.values.values()], dtype=np.float32)


# --- Feast's storage format -----------------------------------------------------------------------


def _value_class() -> Any:
    """Feast's `ValueProto`, declared for the scalar kinds only (field numbers are Feast's; a test
    compares them with Feast's own descriptor). Other kinds arrive as unknown fields and are refused."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(name="steelthread/feast_value.proto", package="steelthread")
    message = file.message_type.add(name="FeastValue")
    message.oneof_decl.add(name="val")
    for name, number, kind in (
        ("bytes_val", 1, field.TYPE_BYTES),
        ("string_val", 2, field.TYPE_STRING),
        ("int32_val", 3, field.TYPE_INT32),
        ("int64_val", 4, field.TYPE_INT64),
        ("double_val", 5, field.TYPE_DOUBLE),
        ("float_val", 6, field.TYPE_FLOAT),
        ("bool_val", 7, field.TYPE_BOOL),
        ("unix_timestamp_val", 8, field.TYPE_INT64),
        ("null_val", 19, field.TYPE_INT32),  # an enum in Feast: the same varint on the wire
    ):
        message.field.add(name=name, number=number, type=kind, label=field.LABEL_OPTIONAL, oneof_index=0)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("steelthread.FeastValue"))


_VALUE = _value_class()
_DOUBLE_TAG = 5 << 3 | 1
_unpack_double = struct.Struct("<d").unpack_from
_NUMERIC = frozenset({"int32_val", "int64_val", "double_val", "float_val", "unix_timestamp_val"})


def decode_value(raw: bytes | None, feature: str) -> Value:
    """A stored ValueProto as a Python value: None for absent/null, float for numbers, str for strings."""
    if not raw:
        return None
    if len(raw) == 9 and raw[0] == _DOUBLE_TAG:  # most values: a double, field 5, fixed 64-bit
        return float(_unpack_double(raw, 1)[0])
    message = _VALUE()
    message.ParseFromString(raw)
    kind = message.WhichOneof("val")
    if kind in _NUMERIC:
        return float(getattr(message, kind))
    if kind == "string_val":
        return str(message.string_val)
    if kind == "bool_val":
        return float(message.bool_val)
    if kind == "null_val":
        return None
    raise FeatureRetrievalError(f"online value of {feature!r} is of a kind this reader does not serve")


_INT64_KEY_HEADER = struct.pack("<III", 1, 2, len(JOIN_KEY)) + JOIN_KEY.encode()
"""Version 3 entity key: key count, then (STRING type, length, name) per join key ..."""
_INT64_VALUE_HEADER = struct.pack("<II", 4, 8)
"""... then (INT64 type, 8 bytes, value) per join-key value (Feast's ValueType.INT64 is 4)."""


def entity_key(entity_id: int) -> bytes:
    """Feast's `serialize_entity_key` (version 3) for one int64 value of the join key."""
    return _INT64_KEY_HEADER + _INT64_VALUE_HEADER + struct.pack("<q", entity_id)


def redis_field(view: str, feature: str) -> bytes:
    """Feast's Redis hash field of a feature: murmur3-32 of `view:feature`, 4 bytes little endian."""
    import mmh3

    return struct.pack("<I", mmh3.hash(f"{view}:{feature}", signed=False))


# --- Readers ----------------------------------------------------------------------------------------

RawRow = dict[str, Value]
"""One entity's raw read: `<feature>: value` for every view feature, `<first feature>__ts` per view."""


class OnlineReader(Protocol):
    local: bool
    """True when a read is a local file read, cheaper done inline than on a timer or a thread."""

    def read(self, entity_ids: Sequence[int]) -> list[RawRow]: ...

    async def aread(self, entity_ids: Sequence[int]) -> list[RawRow]:
        """The same read for an event loop (serving): it never blocks the loop on network I/O."""
        ...

    def close(self) -> None: ...

    async def aclose(self) -> None:
        """Close, from the event loop that used `aread` (an asyncio client's connections belong to it)."""
        ...


def view_timestamp(view: str) -> str:
    return f"{ONLINE_VIEWS[view][0]}{TIMESTAMP}"


_EMPTY_ROW: RawRow = {
    name: None for view, features in ONLINE_VIEWS.items() for name in (*features, view_timestamp(view))
}


def _empty_row() -> RawRow:
    return _EMPTY_ROW.copy()


class SqliteReader:
    """Feast's SQLite online store, opened read-only with one connection per thread."""

    local = True
    MAX_KEYS = 800 // max(1, len(ONLINE_VIEWS))
    """Keys per statement: one bound value per key and view, kept under SQLite's limit of 999 (before 3.32),
    so a large batch (the batch endpoint, or many requests at once) is read in several statements."""

    def __init__(self, path: Path, project: str, timeout: float = 1.0) -> None:
        self.path = path
        self._uri = f"file:{path.resolve()}?mode=ro"
        self._timeout = timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # One statement over every view (one round trip into SQLite). Names come only from definitions
        # and the settings' pattern-checked project; values are bound.
        self._select = " UNION ALL ".join(
            f"SELECT {i}, entity_key, feature_name, value, event_ts "  # noqa: S608
            f'FROM "{project}_{view}" WHERE entity_key IN ({{marks}})'
            for i, view in enumerate(ONLINE_VIEWS)
        )
        # One key (every online request) as `=`: SQLite plans it faster than `IN (?)`.
        self._select_one = self._select.replace("IN ({marks})", "= ?")
        self._views = [(view, set(features), view_timestamp(view)) for view, features in ONLINE_VIEWS.items()]

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            if not self.path.is_file():
                raise FeatureRetrievalError(
                    f"online store {self.path} does not exist; run `steelthread-features apply` and "
                    "`steelthread-features materialize` first"
                )
            connection = sqlite3.connect(self._uri, uri=True, timeout=self._timeout, check_same_thread=False)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def read(self, entity_ids: Sequence[int]) -> list[RawRow]:
        keys = [entity_key(c) for c in entity_ids]
        rows = {key: _empty_row() for key in keys}
        unique = list(rows)
        found: list[tuple[int, bytes, str, bytes | None, Any]] = []
        try:
            connection = self._connection()
            for start in range(0, len(unique), self.MAX_KEYS):
                chunk = unique[start : start + self.MAX_KEYS]
                marks = ",".join("?" * len(chunk))
                query = self._select_one if len(chunk) == 1 else self._select.format(marks=marks)
                found += connection.execute(query, chunk * len(self._views)).fetchall()
        except sqlite3.OperationalError as exc:
            raise FeatureRetrievalError(
                f"cannot read the online store {self.path}: {exc}; have the views been applied and "
                "materialised?"
            ) from exc
        last_ts, seconds = None, None
        for view, key, feature, raw, event_ts in found:
            _, wanted, stamp = self._views[view]
            if feature in wanted:
                row = rows[key]
                row[feature] = decode_value(raw, feature)
                if event_ts != last_ts:  # every feature of a view shares its row's event time
                    last_ts, seconds = event_ts, _seconds(event_ts)
                row[stamp] = seconds
        return [rows[key] for key in keys]

    async def aclose(self) -> None:
        self.close()

    async def aread(self, entity_ids: Sequence[int]) -> list[RawRow]:
        # A short local file read: a thread hop would cost more than the read itself;
        # the connection's busy timeout bounds a read that waits on a writer.
        return self.read(entity_ids)

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()


def _seconds(event_ts: Any) -> float | None:
    """Feast writes SQLite event times as Unix seconds; older stores hold ISO strings."""
    if event_ts is None:
        return None
    if isinstance(event_ts, int | float):
        return float(event_ts)
    stamp = datetime.fromisoformat(str(event_ts))
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


class RedisReader:
    """Feast's Redis online store: one HMGET per entity over every feature and view timestamp.

    `read` goes through redis-py's client. `aread` (serving, on the event loop) uses redis-py's asyncio
    connections and parser but not its client, pool and retry wrappers, and sends HMGETs packed once per
    reader, which takes a large share off each read (bench/bench_features.py, bench/RESULTS.md). Its
    connections have no socket timeout of their own (redis-py would start a task per send to enforce
    it): the caller bounds the whole read (serving's `asyncio.timeout`), and a connection interrupted
    mid-reply is closed, never reused.
    """

    local = False

    def __init__(self, url: str, project: str, timeout: float = 1.0) -> None:
        import redis

        self._url = url
        self._timeout = timeout
        self._client: redis.Redis = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30
        )
        self._pool: redis.asyncio.ConnectionPool | None = None
        self._idle: list[redis.asyncio.Connection] = []
        self._aloop: object = None
        self._suffix = project.encode()
        self._fields: list[bytes] = []
        self._names: list[tuple[str, bool]] = []  # the RawRow name each field fills; True for a view's time
        for view, features in ONLINE_VIEWS.items():
            for feature in features:
                self._fields.append(redis_field(view, feature))
                self._names.append((feature, False))
            self._fields.append(f"_ts:{view}".encode())
            self._names.append((view_timestamp(view), True))
        # HMGET <key> <fields...> in RESP, all but the key packed once (a test compares it with redis-py's
        # own `pack_command`).
        self._hmget_head = b"*%d\r\n$5\r\nHMGET\r\n" % (len(self._fields) + 2)
        self._hmget_fields = b"".join(b"$%d\r\n%s\r\n" % (len(f), f) for f in self._fields)

    def _key(self, entity_id: int) -> bytes:
        """Feast's Redis key: the serialised entity key, then the project."""
        return entity_key(entity_id) + self._suffix

    def hmget_command(self, entity_id: int) -> bytes:
        key = self._key(entity_id)
        return b"%s$%d\r\n%s\r\n%s" % (self._hmget_head, len(key), key, self._hmget_fields)

    def read(self, entity_ids: Sequence[int]) -> list[RawRow]:
        # redis-py's annotations say str, but keys and fields are bytes on the wire either way.
        fields: Any = self._fields
        replies: list[list[bytes | None]]
        if len(entity_ids) == 1:
            key: Any = self._key(entity_ids[0])
            replies = [cast(list[bytes | None], self._client.hmget(key, fields))]
        else:
            pipe = self._client.pipeline(transaction=False)
            for entity in entity_ids:
                pipe.hmget(self._key(entity), fields)  # type: ignore[arg-type]
            replies = pipe.execute()
        return self._rows(replies)

    async def aread(self, entity_ids: Sequence[int]) -> list[RawRow]:
        connection = self._connection()
        try:  # one write for every entity (a pipeline), then their replies in order
            await connection.send_packed_command(
                b"".join(self.hmget_command(c) for c in entity_ids), check_health=False
            )
            replies = [await connection.read_response() for _ in entity_ids]
        except BaseException:  # incl. the caller's timeout: the rest of a reply may still arrive
            await connection.disconnect(nowait=True)
            raise
        self._idle.append(connection)
        return self._rows(replies)

    def _connection(self) -> redis.asyncio.Connection:
        """An idle connection of this event loop, or a new one (connected on first send)."""
        import redis.asyncio

        loop = asyncio.get_running_loop()
        if self._pool is None or self._aloop is not loop:  # connections belong to the loop that opened them
            self._pool = redis.asyncio.ConnectionPool.from_url(
                self._url, socket_connect_timeout=self._timeout
            )
            self._idle = []
            self._aloop = loop
        if self._idle:
            return self._idle.pop()
        connection: redis.asyncio.Connection = self._pool.make_connection()  # type: ignore[no-untyped-call]
        return connection

    def _rows(self, replies: Sequence[Sequence[bytes | None]]) -> list[RawRow]:
        out = []
        for reply in replies:
            row = _empty_row()
            for (name, is_time), raw in zip(self._names, reply, strict=True):
                if not is_time:
                    row[name] = decode_value(raw, name)
                elif raw:
                    stamp = Timestamp()
                    stamp.ParseFromString(raw)
                    row[name] = stamp.seconds + stamp.nanos / 1e9
            out.append(row)
        return out

    def close(self) -> None:
        self._client.close()
        self._idle = []  # asyncio connections are closed by `aclose`, in their own loop

    async def aclose(self) -> None:
        if self._aloop is asyncio.get_running_loop():
            for connection in self._idle:
                await connection.disconnect()
        self.close()


def open_reader(settings: FeatureSettings, timeout: float = 1.0) -> OnlineReader:
    """The reader for the settings' profile: SQLite under the Feast repo (local) or Redis (production)."""
    if settings.profile == "production":
        return RedisReader(settings.redis_url, settings.project, timeout)
    return SqliteReader(settings.feast_dir / "online_store.db", settings.project, timeout)


_READERS: dict[FeatureSettings, OnlineReader] = {}
_READERS_LOCK = threading.Lock()


def reader_for(settings: FeatureSettings) -> OnlineReader:
    """One cached reader per settings, so connections are reused across calls."""
    with _READERS_LOCK:
        reader = _READERS.get(settings)
        if reader is None:
            reader = _READERS[settings] = open_reader(settings)
        return reader


def close_readers() -> None:
    with _READERS_LOCK:
        for reader in _READERS.values():
            reader.close()
        _READERS.clear()


# --- Vectors ------------------------------------------------------------------------------------


_ROW_FIELDS = (JOIN_KEY, *REQUEST_FIELDS)
"""What `request_row` reads from a request: the entity's join key, then the use case's request fields."""


_FIELD_KINDS = tuple((f.name, f.kind) for f in USE_CASE.request_fields)
_INT_CHOICES = {
    f.name: f.choices for f in USE_CASE.request_fields if f.kind == "choice" and f.storage == "int64"
}
_TRUSTED: tuple[type, ...] = (
    (PredictionRequest,) if set(_ROW_FIELDS) <= set(PredictionRequest.model_fields) else ()
)
"""The API's request model, when it carries this use case's fields: validated by its contract, it is read
as it is (an empty tuple matches nothing, so another use case's requests get the checks below)."""


def request_row(request: Any) -> dict[str, Any]:
    """The entity key and the request fields of a prediction request or mapping, checked.

    A request model validated by the API contract (stricter than below) is read as it is, enums as their
    values; a mapping gets the type checks the transform relies on (ranges are the contract's business).
    """
    if isinstance(request, _TRUSTED):  # validated by its contract, which is stricter than below
        trusted = {name: getattr(request, name) for name in _ROW_FIELDS}
        return {name: getattr(value, "value", value) for name, value in trusted.items()}
    if hasattr(request, "model_dump"):  # another model with these fields: read them, enums as their values
        data: Mapping[str, Any] = {
            name: getattr(value, "value", value)
            for name in _ROW_FIELDS
            if (value := getattr(request, name, None)) is not None
        }
    elif isinstance(request, Mapping):
        data = request
    else:
        raise FeatureInputError(None, f"a request must be a mapping, got {type(request).__name__}")
    row: dict[str, Any] = {}
    for name in _ROW_FIELDS:
        if name not in data or data[name] is None:
            raise FeatureInputError(name, f"request is missing field {name!r}")
        row[name] = data[name]
    if not isinstance(row[JOIN_KEY], int) or isinstance(row[JOIN_KEY], bool):
        raise FeatureInputError(JOIN_KEY, f"field {JOIN_KEY!r} must be an integer")
    for name, kind in _FIELD_KINDS:
        value = row[name]
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FeatureInputError(name, f"field {name!r} must be a number")
            row[name] = float(value)
        elif kind == "integer" or isinstance(value, bool):
            if isinstance(value, bool) or not isinstance(value, int):
                raise FeatureInputError(name, f"field {name!r} must be an integer")
        elif name in _INT_CHOICES:
            if isinstance(value, bool) or value not in _INT_CHOICES[name]:
                raise FeatureInputError(name, f"field {name!r} must be one of {_INT_CHOICES[name]}")
        elif not isinstance(value, str):
            raise FeatureInputError(name, f"field {name!r} must be a string")
    return row


def check_requests(requests: Sequence[Any], as_of: datetime | None) -> list[dict[str, Any]]:
    if isinstance(requests, Mapping) or hasattr(requests, "model_dump"):
        raise FeatureInputError(None, "online_vector takes a sequence of requests")
    if as_of is not None and as_of.tzinfo is None:
        raise FeatureInputError("as_of", "as_of must be timezone-aware")
    return [request_row(r) for r in requests]


def _clean(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if number != number else number  # NaN


def build_vectors(
    rows: Sequence[Mapping[str, Any]],
    data: Mapping[str, Sequence[Any]],
    as_of: datetime | None,
    *,
    with_application: bool = True,
) -> list[OnlineVector]:
    """Vectors from the batch-view columns `data` (one list per feature and per view timestamp), as the
    Feast engines return them; the direct reader's rows go to `raw_vectors` without the column detour.

    Computes the request-time features (unless `data` already holds them), then applies each view's
    TTL at `as_of` (default now): Feast itself does not expire online values.
    """
    names = list(data)
    raw = [dict(zip(names, values, strict=True)) for values in zip(*data.values(), strict=True)]
    return raw_vectors(rows, raw, as_of, with_application=with_application)


_FEATURE_VIEWS = [(name, FEATURE_VIEW_OF.get(name)) for name in FEATURE_NAMES]
_VIEW_STAMPS = [(view, view_timestamp(view), VIEW_TTLS[view].total_seconds()) for view in ONLINE_VIEWS]


def _transform_arguments() -> tuple[tuple[bool, str], ...] | None:
    """The row transform's parameters in order, each as (read from the request?, name), when they are
    exactly the request fields and the stored inputs: a positional call then builds no keyword dicts on
    serving's hot path. None: the transform is called by keyword."""
    try:
        parameters = list(inspect.signature(_TRANSFORM_ROW).parameters.values())
    except (TypeError, ValueError):  # a callable without a readable signature
        return None
    request, stored = set(REQUEST_FIELDS), set(_STORED_INPUTS)
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [p.name for p in parameters if p.kind in positional]
    if len(names) != len(parameters) or sorted(names) != sorted(request | stored) or request & stored:
        return None
    return tuple((name in request, name) for name in names)


_TRANSFORM_ARGS = _transform_arguments()


def raw_vectors(
    rows: Sequence[Mapping[str, Any]],
    raw: Sequence[Mapping[str, Any]],
    as_of: datetime | None,
    *,
    with_application: bool = True,
) -> list[OnlineVector]:
    """One vector per request row from its raw read (a `RawRow`: every batch feature and view time)."""
    now = (as_of or datetime.now(UTC)).timestamp()
    out = []
    for row, found in zip(rows, raw, strict=True):
        expired = [
            view for view, stamp, ttl in _VIEW_STAMPS if (s := found.get(stamp)) and float(s) < now - ttl
        ]
        values = dict(found)
        if with_application:
            if _TRANSFORM_ARGS is not None:
                computed = _TRANSFORM_ROW(*[(row if ask else found)[name] for ask, name in _TRANSFORM_ARGS])
            else:
                computed = _TRANSFORM_ROW(
                    **{name: row[name] for name in REQUEST_FIELDS},
                    **{name: found[name] for name in _STORED_INPUTS},
                )
            values.update(zip(APPLICATION_FEATURES, computed, strict=True))
        vector = {name: None if view in expired else _clean(values[name]) for name, view in _FEATURE_VIEWS}
        missing = tuple(name for name, v in vector.items() if v is None)
        out.append(OnlineVector(entity_id=int(row[JOIN_KEY]), values=vector, missing=missing))
    return out


def online_vectors(
    requests: Sequence[Any],
    *,
    settings: FeatureSettings | None = None,
    reader: OnlineReader | None = None,
    as_of: datetime | None = None,
) -> list[OnlineVector]:
    """Online features for each request, read directly from the online store (see the module doc)."""
    rows = check_requests(requests, as_of)
    if not rows:
        return []
    reader = reader or _default_reader(settings)
    return raw_vectors(rows, reader.read([int(row[JOIN_KEY]) for row in rows]), as_of)


async def online_vectors_async(
    requests: Sequence[Any], *, reader: OnlineReader, as_of: datetime | None = None
) -> list[OnlineVector]:
    """`online_vectors` for an event loop: the reader's `aread` (Redis without blocking the loop)."""
    rows = check_requests(requests, as_of)
    if not rows:
        return []
    return raw_vectors(rows, await reader.aread([int(row[JOIN_KEY]) for row in rows]), as_of)


def _default_reader(settings: FeatureSettings | None) -> OnlineReader:
    from steelthread_features.settings import FeatureSettings

    return reader_for(settings or FeatureSettings())
