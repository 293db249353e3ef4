"""Read a time window of the prediction log, joined with the feedback labels that have arrived.

Logs reach millions of rows a day, so records are parsed column-wise by Arrow's multi-threaded JSON reader
instead of one pydantic object per line; the contract is still enforced where it matters (schema_version,
types of the columns monitoring uses). Only `steelthread_contracts` shapes are read, never serving internals.

Labels are checked for the reference's task as they are read (binary: 0 or 1; regression: a finite number),
and a bad one names its file and line, because the alternative is a performance number computed on garbage.

`request_id` makes a prediction unique (steelthread_contracts.log): a record read twice (a replayed spill, a
retried write, a file copied to two replicas' folders) counts once, the earliest logged; for feedback the
latest label wins. Lines that are not records of the contract are skipped and counted (steelthread_monitoring
.records); both numbers travel with the window into summary.json and the gauges.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq

from steelthread_contracts import PredictionLogRecord, usecase
from steelthread_contracts.log import ENTITY_FIELD as LOG_ENTITY_FIELD
from steelthread_contracts.log import LEGACY_ENTITY_FIELD, READABLE_SCHEMA_VERSIONS
from steelthread_contracts.package import Task
from steelthread_monitoring.errors import InvalidInputError
from steelthread_monitoring.records import Kind, RecordCounts, RecordRule, clean_lines, clean_rows
from steelthread_monitoring.reference import LABEL_COLUMN, SCORE_COLUMN, Reference
from steelthread_monitoring.summary import RecordsSummary

PREDICTION_GLOB = "predictions-*.jsonl"
BATCH_GLOB = "date=*/run=*/*.parquet"
"""A batch run's prediction log under its folder (steelthread_batch.output: hive-partitioned by run date)."""
FEEDBACK_GLOB = "feedback-*.jsonl"
_BLOCK_SIZE = 16 << 20
_BLOCK_LINES = 8192
"""Lines per block when a file fails the fast check: a bad line costs its block a line-by-line read."""
ENTITY_FIELD = LOG_ENTITY_FIELD
"""The prediction-log record's entity-key field (steelthread_contracts.log), whatever the use case's join
key is called; `read_window(entity_key=...)` renames it for the skew seam. Schema-1 files name it
LEGACY_ENTITY_FIELD[1]: both are read and coalesced."""
assert ENTITY_FIELD in PredictionLogRecord.model_fields, "the log contract renamed its entity-key field"
_LEGACY_FIELDS = tuple(sorted(set(LEGACY_ENTITY_FIELD.values())))

_LOG_SCHEMA = pa.schema(
    [
        ("schema_version", pa.int64()),
        ("logged_at", pa.timestamp("us", tz="UTC")),
        ("request_id", pa.string()),
        (ENTITY_FIELD, pa.int64()),
        *((name, pa.int64()) for name in _LEGACY_FIELDS),
        ("model_version", pa.string()),
        ("score", pa.float64()),
        ("degraded", pa.bool_()),
    ]
)
_FEEDBACK_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("observed_label", pa.float64()),
        ("observed_at", pa.timestamp("us", tz="UTC")),
    ]
)
_FEEDBACK_NAMES_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("observed_label", pa.string()),
        ("observed_at", pa.timestamp("us", tz="UTC")),
    ]
)
"""Multiclass feedback, whose label may be a class name (or an index, read as text)."""

LOG_RULE = RecordRule(
    required=(
        "schema_version",
        "logged_at",
        "request_id",
        ENTITY_FIELD,
        "model_name",
        "model_version",
        "mode",
        "request",
        "score",
        "decision",
        "latency_ms",
    ),
    kinds={
        "schema_version": Kind.INT,
        "logged_at": Kind.TIMESTAMP,
        "request_id": Kind.STRING,
        ENTITY_FIELD: Kind.INT,
        "model_name": Kind.STRING,
        "model_version": Kind.STRING,
        "mode": Kind.STRING,
        "request": Kind.OBJECT,
        "features": Kind.OBJECT,
        "score": Kind.NUMBER,
        "decision": Kind.STRING,
        "degraded": Kind.BOOL,
        "latency_ms": Kind.NUMBER,
    },
    aliases={ENTITY_FIELD: _LEGACY_FIELDS},
    time_field="logged_at",
    versions=("schema_version", frozenset(READABLE_SCHEMA_VERSIONS)),
)
"""A prediction-log record: every field the contract requires, plus `schema_version` (the contract defaults
it, but serving always writes it and a record without it cannot be read by its schema)."""
assert {n for n, f in PredictionLogRecord.model_fields.items() if f.is_required()} <= set(LOG_RULE.required)
FEEDBACK_RULE = RecordRule(
    required=("request_id", "observed_at"),
    kinds={"request_id": Kind.STRING, "observed_at": Kind.TIMESTAMP},
)
"""A feedback record; its `observed_label` is the task's label rule's business (a refused label stops the
run and names its line)."""
BASE_COLUMNS = ["request_id", ENTITY_FIELD, "logged_at", "model_version", "degraded"]


@dataclass
class Window:
    """The current data: one row per logged prediction in the window."""

    frame: pd.DataFrame
    files: list[Path]
    unseen_columns: list[str] = field(default_factory=list)
    type_changes: dict[str, dict[str, str]] = field(default_factory=dict)
    absent_columns: list[str] = field(default_factory=list)
    """Reference columns no logged record carries (e.g. slice attributes serving never sees)."""
    requests: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Row-aligned with `frame`: request_id, the entity key (named `entity_key`), logged_at and every logged
    request field, for offline recomputation."""
    log_records: RecordsSummary = field(default_factory=RecordsSummary)
    """Duplicates counted once and malformed lines skipped, in the files read for the window."""
    feedback_records: RecordsSummary = field(default_factory=RecordsSummary)

    @property
    def empty(self) -> bool:
        return len(self.frame) == 0

    @property
    def labelled(self) -> pd.DataFrame:
        if self.empty:
            return self.frame  # an empty window's frame has no columns at all
        return self.frame[self.frame[LABEL_COLUMN].notna()]


def read_window(
    log_dir: Path,
    feedback_dir: Path | None,
    start: datetime,
    end: datetime,
    reference: Reference,
    with_requests: bool = False,
    entity_key: str = ENTITY_FIELD,
    batch_log_dir: Path | None = None,
    labels_until: datetime | None = None,
) -> Window:
    """Rows logged in [start, end) with the reference's columns, the reference version's score and labels,
    one per request_id. An empty window comes back empty (`Window.empty`), with its record counts.

    `with_requests` also keeps every logged request field (only the skew check needs them), with the log's
    entity key renamed to `entity_key` (the use case's join key, what a feature library joins on).
    `batch_log_dir` adds a batch run's parquet prediction log (BATCH_GLOB under it) to the online JSON lines:
    the same contract, checks and deduplication. `labels_until` leaves out labels observed after it (a run
    as of a past `now` sees only the labels that had arrived by then).
    """
    files = [p for p in sorted(log_dir.glob(PREDICTION_GLOB)) if _may_hold(p, start)]
    batch_files = _batch_parts(batch_log_dir, start, end) if batch_log_dir is not None else []
    log_counts = RecordCounts()
    parts: list[pd.DataFrame] = []
    request_parts: list[pd.DataFrame] = []
    unseen: set[str] = set()
    kinds: dict[str, set[str]] = {}
    tables = (
        *((path, _read_records(path, _LOG_SCHEMA, LOG_RULE, log_counts, (start, end))) for path in files),
        *((path, _read_batch_part(path, log_counts, (start, end))) for path in batch_files),
    )
    for path, table in tables:
        if table is None:
            continue
        _check_schema_version(table, path)
        table = _upgrade_entity_key(table)
        at = table.column("logged_at")
        table = table.filter(
            pc.and_(pc.greater_equal(at, pa.scalar(start, at.type)), pc.less(at, pa.scalar(end, at.type)))
        )
        table = table.filter(_has_feature_vector(table))
        if table.num_rows == 0:
            continue
        part, part_unseen, part_kinds = _to_frame(table, reference)
        if with_requests:
            request_parts.append(_requests(table, entity_key))
        unseen |= part_unseen
        for name, kind in part_kinds.items():
            kinds.setdefault(name, set()).add(kind)
        parts.append(part)
    files = [*files, *batch_files]
    if not parts:
        return Window(frame=pd.DataFrame(), files=files, log_records=log_counts.summary())
    frame = pd.concat(parts, ignore_index=True)
    requests = pd.concat(request_parts, ignore_index=True) if request_parts else pd.DataFrame()
    first = _first_per_request(frame)
    log_counts.duplicates = int(len(frame) - first.sum())
    if log_counts.duplicates:
        frame = frame[first].reset_index(drop=True)
        if with_requests:
            requests = requests[first].reset_index(drop=True)
    absent = [c for c in reference.monitored_columns if c not in kinds]
    frame = frame.drop(columns=absent)
    type_changes = _coerce_types(frame, reference, kinds)
    feedback_counts = RecordCounts()
    frame[LABEL_COLUMN] = _labels_for(
        frame["request_id"], feedback_dir, reference.task, feedback_counts, labels_until
    )
    return Window(
        frame=frame,
        files=files,
        unseen_columns=sorted(unseen),
        absent_columns=absent,
        type_changes=type_changes,
        requests=requests,
        log_records=log_counts.summary(),
        feedback_records=feedback_counts.summary(),
    )


def _first_per_request(frame: pd.DataFrame) -> pd.Series:
    """True for the earliest logged record of each request_id (file order breaks ties)."""
    ordered = frame.sort_values("logged_at", kind="stable")["request_id"]
    first: pd.Series = (~ordered.duplicated(keep="first")).reindex(frame.index)
    return first


def _has_feature_vector(table: pa.Table) -> pa.Array:
    """Rows that carry a feature vector. Skeleton-mode answers (and answers degraded before features were
    fetched) log `features: {}`: counting them would read as 100 % missing values and as training/serving
    skew, when in fact no model looked at those requests."""
    if "features" not in table.column_names:
        return pa.array([False] * table.num_rows, pa.bool_())
    column = table.column("features").combine_chunks()
    if not isinstance(column, pa.StructArray) or column.type.num_fields == 0:
        return pa.array([False] * table.num_rows, pa.bool_())
    mask = pc.is_valid(column.field(0))
    for i in range(1, column.type.num_fields):
        mask = pc.or_(mask, pc.is_valid(column.field(i)))
    return mask


def _batch_parts(folder: Path, start: datetime, end: datetime) -> list[Path]:
    """The batch log's parquet parts whose run date (the `date=` partition, UTC) can hold [start, end)."""
    first, last = f"date={start.astimezone(UTC):%Y-%m-%d}", f"date={end.astimezone(UTC):%Y-%m-%d}"
    return [p for p in sorted(folder.glob(BATCH_GLOB)) if first <= p.parent.parent.name <= last]


def _read_batch_part(path: Path, counts: RecordCounts, window: tuple[datetime, datetime]) -> pa.Table | None:
    """One parquet part of a batch run's prediction log as the JSON reader would give its records: rows that
    are not records of the contract are counted (`file:row N`) and left out, as malformed lines are."""
    try:
        table = pq.read_table(path, partitioning=None)
    except (pa.ArrowInvalid, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInputError(f"cannot read batch prediction log {path}: {first}") from exc
    table = clean_rows(path, table, LOG_RULE, counts, window)
    return table if table.num_rows else None


def _may_hold(path: Path, start: datetime) -> bool:
    """A file last written before the window opened cannot hold rows of the window: skip reading it."""
    return path.stat().st_mtime >= start.timestamp()


def _complete_lines(path: Path) -> pa.Buffer | None:
    """The file up to its last newline, memory-mapped: serving may be appending a line right now,
    and a half-written last line is not an error. None when no complete line exists yet."""
    with pa.memory_map(str(path)) as source:
        buffer = source.read_buffer()
    if buffer.size == 0:
        return None
    data = np.frombuffer(buffer, dtype=np.uint8)
    tail = max(0, buffer.size - (1 << 16))
    newlines = np.flatnonzero(data[tail:] == 0x0A)
    if newlines.size == 0 and tail > 0:
        newlines, tail = np.flatnonzero(data == 0x0A), 0
    if newlines.size == 0:
        return None
    end = tail + int(newlines[-1]) + 1
    return buffer if end == buffer.size else buffer.slice(0, end)


def _parse(buffer: pa.Buffer, schema: pa.Schema) -> pa.Table:
    return pj.read_json(
        pa.BufferReader(buffer),
        read_options=pj.ReadOptions(block_size=_BLOCK_SIZE),
        parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer"),
    )


def _blocks(buffer: pa.Buffer) -> Iterator[tuple[int, pa.Buffer]]:
    """(number of its first line, block) for consecutive blocks of _BLOCK_LINES complete lines."""
    ends = np.flatnonzero(np.frombuffer(buffer, dtype=np.uint8) == 0x0A) + 1
    start = 0
    for index in range(0, len(ends), _BLOCK_LINES):
        end = int(ends[min(index + _BLOCK_LINES, len(ends)) - 1])
        yield index + 1, buffer.slice(start, end - start)
        start = end


def _read_records(
    path: Path,
    schema: pa.Schema,
    rule: RecordRule,
    counts: RecordCounts,
    window: tuple[datetime, datetime] | None = None,
) -> pa.Table | None:
    """The file's records of the contract; malformed lines are counted in `counts` (those placed outside
    `window` by a readable time are another run's and not counted). None when no complete line exists.

    One Arrow parse when the file is clean; otherwise the same check per block of lines, and every line of
    a block that fails is checked on its own (records.py)."""
    try:
        buffer = _complete_lines(path)
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}") from exc
    if buffer is None:
        return None
    try:
        table = _parse(buffer, schema)
        if rule.table_is_clean(table):
            return table
    except pa.ArrowInvalid:
        pass

    def counted(record: object) -> bool:
        return window is None or not rule.placed_outside(record, *window)

    blocks: list[bytes] = []
    for first_line, block in _blocks(buffer):
        try:
            if rule.table_is_clean(_parse(block, schema)):
                blocks.append(block.to_pybytes())
                continue
        except pa.ArrowInvalid:
            pass
        blocks.append(clean_lines(path, block.to_pybytes(), rule, counts, counted, first_line))
    text = b"".join(blocks)
    if not text:
        return None
    try:
        return _parse(pa.py_buffer(text), schema)
    except pa.ArrowInvalid as exc:
        # Every line is a record, yet together they do not parse: one column's type changes between lines
        # (e.g. a feature logged as a number, then as text) within one file.
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInputError(f"{path} is not valid JSON lines of the contract: {first}") from exc


def _check_schema_version(table: pa.Table, path: Path) -> None:
    versions = set(pc.unique(table.column("schema_version")).to_pylist())
    unknown = versions - READABLE_SCHEMA_VERSIONS
    if unknown:
        raise InvalidInputError(
            f"{path} holds prediction-log schema_version {sorted(map(str, unknown))}; "
            f"this job reads versions {', '.join(map(str, sorted(READABLE_SCHEMA_VERSIONS)))}"
        )


def _upgrade_entity_key(table: pa.Table) -> pa.Table:
    """Schema-1 lines name the entity key as that schema did: one `entity_key` column for every line."""
    key = table.column(ENTITY_FIELD)
    for name in (n for n in _LEGACY_FIELDS if n in table.column_names):
        key = pc.coalesce(key, table.column(name))
        table = table.drop_columns([name])
    return table.set_column(table.schema.get_field_index(ENTITY_FIELD), ENTITY_FIELD, key)


def _struct_children(table: pa.Table, name: str) -> dict[str, pa.ChunkedArray]:
    if name not in table.column_names:
        return {}
    column = table.column(name)
    if not pa.types.is_struct(column.type):
        return {}
    flat = column.combine_chunks()
    return {
        column.type.field(i).name: pa.chunked_array([flat.field(i)]) for i in range(column.type.num_fields)
    }


def _kind(arrow_type: pa.DataType) -> str:
    if pa.types.is_null(arrow_type):
        return "null"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "numeric"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    return str(arrow_type)


def _requests(table: pa.Table, entity_key: str) -> pd.DataFrame:
    columns = {
        "request_id": table.column("request_id"),
        entity_key: table.column(ENTITY_FIELD),
        "logged_at": table.column("logged_at"),
    }
    for name, array in _struct_children(table, "request").items():
        columns.setdefault(name, array)
    frame: pd.DataFrame = pa.table(columns).to_pandas()
    return frame


def _to_frame(table: pa.Table, reference: Reference) -> tuple[pd.DataFrame, set[str], dict[str, str]]:
    """Flatten `features` and `request` into the reference's columns; note unseen columns and types."""
    features = _struct_children(table, "features")
    request = _struct_children(table, "request")
    wanted = set(reference.monitored_columns)
    unseen = {name for name in features if name not in reference.frame.columns}
    columns: dict[str, pa.ChunkedArray] = {name: table.column(name) for name in BASE_COLUMNS}
    kinds: dict[str, str] = {}
    for name in reference.monitored_columns:
        if name in features:
            array = features[name]
        elif name in request:
            array = request[name]
        else:
            continue
        columns[name] = array
        kinds[name] = _kind(array.type)
    frame = pa.table(columns).to_pandas(self_destruct=True)
    for name in wanted - set(columns):
        frame[name] = np.nan
    frame[SCORE_COLUMN] = _reference_version_score(table, reference.model_version)
    return frame, unseen, kinds


def _reference_version_score(table: pa.Table, version: str | None) -> np.ndarray:
    """The score the reference's model version gave each request, wherever it was the answering model
    or a shadow; without a known version, the answered score."""
    answered: np.ndarray = np.asarray(table.column("score").to_numpy(zero_copy_only=False), dtype=np.float64)
    if version is None:
        return answered
    score = np.full(table.num_rows, np.nan)
    top_version = table.column("model_version").to_numpy(zero_copy_only=False)
    score[top_version == version] = answered[top_version == version]
    if "scores" in table.column_names:
        column = table.column("scores")
        item = column.type.value_type if pa.types.is_list(column.type) else None
        if (
            item is not None
            and pa.types.is_struct(item)
            and item.get_field_index("model_version") >= 0
            and item.get_field_index("score") >= 0
        ):
            lists = column.combine_chunks()
            flat = pc.list_flatten(lists)
            parents = pc.list_parent_indices(lists).to_numpy()
            versions = flat.field("model_version")
            values = flat.field("score").cast(pa.float64()).to_numpy(zero_copy_only=False)
            mask = pc.fill_null(pc.equal(versions, version), False).to_numpy(zero_copy_only=False)
            score[parents[mask]] = values[mask]
    return score


def _coerce_types(
    frame: pd.DataFrame, reference: Reference, kinds: dict[str, set[str]]
) -> dict[str, dict[str, str]]:
    """Give every column the reference's type; report columns whose logged type differed."""
    changes: dict[str, dict[str, str]] = {}
    numerical = set(reference.numerical_columns)
    for name in (c for c in reference.monitored_columns if c in frame.columns):
        seen = kinds.get(name, set()) - {"null"}
        expected = (
            "numeric" if name in numerical else _kind(pa.array(reference.frame[name].dropna().head(1)).type)
        )
        if name in numerical:
            if seen - {"numeric", "bool"}:
                changes[name] = {"reference": expected, "current": ",".join(sorted(seen))}
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(np.float64)
        else:
            if seen - {expected}:
                changes[name] = {"reference": expected, "current": ",".join(sorted(seen))}
            values = frame[name]
            frame[name] = values.where(values.isna(), values.astype(str)).astype(object)
    return changes


def _class_names() -> tuple[str, ...]:
    """The active use case's class names (a multiclass label may arrive as one), or none."""
    try:
        return usecase.active().classes
    except usecase.UseCaseError:
        return ()


def _class_indices(table: pa.Table, classes: tuple[str, ...]) -> pa.Table:
    """Labels given as class names (what /v1/feedback accepts) as their index in the model's output order;
    anything else becomes NaN and is refused by the label check with its line."""
    index = {name: float(i) for i, name in enumerate(classes)}
    raw = table.column("observed_label").to_pylist()
    values = [index.get(v, _number(v)) if v is not None else None for v in raw]
    return table.set_column(
        table.schema.get_field_index("observed_label"), "observed_label", pa.array(values, pa.float64())
    )


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return float("nan")


def _labels_for(
    request_ids: pd.Series,
    feedback_dir: Path | None,
    task: Task,
    counts: RecordCounts,
    until: datetime | None = None,
) -> np.ndarray:
    """Latest observed label per request id, NaN where none has arrived yet (by `until`, when given);
    earlier labels of a request are counted as duplicates, malformed feedback lines as malformed."""
    labels = np.full(len(request_ids), np.nan)
    if feedback_dir is None or not feedback_dir.is_dir():
        return labels
    classes = _class_names() if task is Task.MULTICLASS else ()
    schema = _FEEDBACK_NAMES_SCHEMA if classes else _FEEDBACK_SCHEMA
    tables = []
    for path in sorted(feedback_dir.glob(FEEDBACK_GLOB)):
        try:
            table = _read_records(path, schema, FEEDBACK_RULE, counts)
        except InvalidInputError:
            _raise_bad_label(path, task)  # names the line when a label is what broke the parse
            raise
        if table is None or table.num_rows == 0:
            continue
        table = table.select(_FEEDBACK_SCHEMA.names)
        if until is not None:
            at = table.column("observed_at")
            table = table.filter(pc.less_equal(at, pa.scalar(until, at.type)))
        if classes:
            table = _class_indices(table, classes)
        if not _valid_labels(table.column("observed_label").to_numpy(zero_copy_only=False), task).all():
            _raise_bad_label(path, task)
        tables.append(table)
    if not tables:
        return labels
    every = pa.concat_tables(tables).to_pandas()
    feedback = (
        every.sort_values("observed_at", kind="stable")
        .drop_duplicates("request_id", keep="last")
        .set_index("request_id")["observed_label"]
    )
    counts.duplicates = len(every) - len(feedback)
    matched: np.ndarray = request_ids.map(feedback).to_numpy(dtype=np.float64, na_value=np.nan)
    return matched


LABEL_RULES: dict[Task, str] = {
    Task.BINARY: "0 or 1",
    Task.REGRESSION: "a finite number",
    Task.MULTICLASS: "one of the use case's class names, or a class index (a whole number >= 0)",
}


def _valid_labels(values: np.ndarray, task: Task) -> np.ndarray:
    """Which labels the task accepts; missing (null) is never a label."""
    values = np.asarray(values, dtype=np.float64)
    finite: np.ndarray = np.isfinite(values)
    if task is Task.BINARY:
        binary: np.ndarray = finite & ((values == 0.0) | (values == 1.0))
        return binary
    if task is Task.MULTICLASS:
        whole: np.ndarray = finite & (values >= 0) & (np.mod(np.where(finite, values, 0.0), 1.0) == 0.0)
        return whole
    return finite


def _label_ok(value: object, task: Task) -> bool:
    if task is Task.MULTICLASS and isinstance(value, str):
        return value in _class_names()
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return bool(_valid_labels(np.array([float(value)]), task)[0])


def _raise_bad_label(path: Path, task: Task) -> None:
    """The first line whose label the task refuses, as one readable error (the slow path: errors only)."""
    buffer = _complete_lines(path)
    text = b"" if buffer is None else buffer.to_pybytes()
    for number, line in enumerate(text.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue  # malformed, not a label problem: counted as such
        if FEEDBACK_RULE.problem(record) is not None:
            continue
        value = record.get("observed_label")
        if not _label_ok(value, task):
            raise InvalidInputError(
                f"{path}:{number}: observed_label {json.dumps(value)} is not a {task.value} label "
                f"(expected {LABEL_RULES[task]})"
            )
