"""Which JSON lines are records of the contract, and how the ones that are not are counted.

A line that is not JSON, not an object, lacks a field the contract requires or holds a value of the wrong
JSON type is skipped, counted by reason (`invalid_json`, `not_an_object`, `missing:<field>`,
`wrong_type:<field>`) and named by `file:line` for the first few: a report must never rest silently on fewer
records than were logged. A batch run's parquet prediction log is checked column-wise the same way
(`clean_rows`). Clean files take the fast path (one Arrow parse, then a column-wise check); a file
that fails it is checked again in blocks of lines the same way, and only a block that fails is read line by
line, so a bad line costs its own block a slower read, not the file or the job.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from steelthread_monitoring.errors import InvalidInputError
from steelthread_monitoring.summary import RecordsSummary

EXAMPLES = 10
"""How many `file:line: reason` examples a summary keeps per input."""


class Kind(Enum):
    """The JSON type a field must have (as Arrow reads it, and as `json.loads` reads it)."""

    INT = "int"
    NUMBER = "number"
    STRING = "string"
    BOOL = "bool"
    TIMESTAMP = "timestamp"
    OBJECT = "object"


def _fits_value(value: object, kind: Kind) -> bool:
    if kind is Kind.INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is Kind.NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is Kind.STRING:
        return isinstance(value, str)
    if kind is Kind.BOOL:
        return isinstance(value, bool)
    if kind is Kind.OBJECT:
        return isinstance(value, dict)
    return isinstance(value, str) and _timestamp(value) is not None


def _fits_type(arrow_type: pa.DataType, kind: Kind) -> bool:
    if pa.types.is_null(arrow_type):
        return True  # every value null: presence is the required-field check's business
    checks: dict[Kind, Callable[[pa.DataType], bool]] = {
        Kind.INT: pa.types.is_integer,
        Kind.NUMBER: lambda t: pa.types.is_integer(t) or pa.types.is_floating(t),
        Kind.STRING: lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
        Kind.BOOL: pa.types.is_boolean,
        Kind.TIMESTAMP: pa.types.is_timestamp,
        Kind.OBJECT: pa.types.is_struct,
    }
    return bool(checks[kind](arrow_type))


def _timestamp(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class RecordRule:
    """What makes a line a record: required fields (each satisfied by itself or one of its `aliases`, e.g.
    a schema-1 entity key) and the JSON type of every field the job reads."""

    required: tuple[str, ...]
    kinds: Mapping[str, Kind]
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    time_field: str | None = None
    """A field that places a record in time; malformed records placed outside the window are not counted."""
    versions: tuple[str, frozenset[int]] | None = None
    """(field, readable versions): a record of a version this reader does not know is not judged here (its
    fields may differ); it is kept, and the reader refuses the file by its version instead."""

    def problem(self, record: object) -> str | None:
        """The first reason this decoded line is not a record, or None."""
        if not isinstance(record, dict):
            return "not_an_object"
        if self.versions is not None:
            name, readable = self.versions
            version = record.get(name)
            if _fits_value(version, Kind.INT) and version not in readable:
                return None
        for name in self.required:
            if all(record.get(n) is None for n in (name, *self.aliases.get(name, ()))):
                return f"missing:{name}"
        for name, kind in self.kinds.items():
            candidates = (name, *self.aliases.get(name, ()))
            for value in (record.get(n) for n in candidates):
                if value is not None and not _fits_value(value, kind):
                    return f"wrong_type:{name}"
        return None

    def table_is_clean(self, table: pa.Table) -> bool:
        """The fast path's check, column-wise: what `problem` would find on no line of `table`."""
        for name in self.required:
            names = [n for n in (name, *self.aliases.get(name, ())) if n in table.column_names]
            if not names:
                return False
            present = pc.is_valid(table.column(names[0]))
            for n in names[1:]:
                present = pc.or_(present, pc.is_valid(table.column(n)))
            if table.num_rows and not pc.all(present).as_py():
                return False
        for name, kind in self.kinds.items():
            for n in (name, *self.aliases.get(name, ())):
                if n in table.column_names and not _fits_type(table.column(n).type, kind):
                    return False
        return True

    def placed_outside(self, record: object, start: datetime, end: datetime) -> bool:
        """True when a (malformed) record carries a readable time outside [start, end)."""
        if self.time_field is None or not isinstance(record, dict):
            return False
        value = record.get(self.time_field)
        at = _timestamp(value) if isinstance(value, str) else None
        if at is None or at.tzinfo is None:
            return False
        return not start <= at < end


@dataclass
class RecordCounts:
    """What one input (prediction log or feedback) held besides clean, unique records."""

    duplicates: int = 0
    malformed: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def add_malformed(self, path: Path, line: int, reason: str, unit: str = "") -> None:
        """`unit` names what `line` counts where it is not a file line (`row` of a parquet file)."""
        self.malformed[reason] += 1
        if len(self.examples) < EXAMPLES:
            where = f"{unit} {line}" if unit else str(line)
            self.examples.append(f"{path}:{where}: {reason}")

    def summary(self) -> RecordsSummary:
        return RecordsSummary(
            duplicates=self.duplicates,
            malformed=sum(self.malformed.values()),
            malformed_by_reason=dict(sorted(self.malformed.items())),
            malformed_examples=list(self.examples),
        )


def clean_lines(
    path: Path,
    text: bytes,
    rule: RecordRule,
    counts: RecordCounts,
    counted: Callable[[object], bool] = lambda _record: True,
    first_line: int = 1,
) -> bytes:
    """The slow path: every line decoded and checked on its own; the records of the contract come back
    as JSON lines for Arrow, the others are counted (when `counted` says the record is this run's).
    `first_line` is the file's line number of the first line of `text`."""
    kept: list[bytes] = []
    for number, line in enumerate(text.split(b"\n"), start=first_line):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            counts.add_malformed(path, number, "invalid_json")
            continue
        reason = rule.problem(record)
        if reason is None:
            kept.append(line)
        elif counted(record):
            counts.add_malformed(path, number, reason)
    return b"".join(line + b"\n" for line in kept)


def clean_rows(
    path: Path,
    table: pa.Table,
    rule: RecordRule,
    counts: RecordCounts,
    window: tuple[datetime, datetime] | None = None,
) -> pa.Table:
    """The typed-file path (a batch run's parquet): a column of the wrong type refuses the whole file, since
    every row shares it; rows lacking a required field are counted as `file:row N: missing:<field>` (rows a
    readable time places outside `window` are another run's and not counted) and left out."""
    for name, kind in rule.kinds.items():
        for n in (name, *rule.aliases.get(name, ())):
            if n in table.column_names and not _fits_type(table.column(n).type, kind):
                raise InvalidInputError(
                    f"{path}: column {n} is {table.column(n).type}, not the contract's {kind.value}"
                )
    if rule.table_is_clean(table):
        return table
    missing: list[pa.Array | None] = []
    for name in rule.required:
        present = [table.column(n) for n in (name, *rule.aliases.get(name, ())) if n in table.column_names]
        if not present:
            missing.append(None)  # the whole column: every row lacks it
            continue
        valid = pc.is_valid(present[0])
        for column in present[1:]:
            valid = pc.or_(valid, pc.is_valid(column))
        missing.append(pc.invert(valid))
    reasons: list[str | None] = [None] * table.num_rows
    for name, mask in zip(rule.required, missing, strict=True):
        rows = range(table.num_rows) if mask is None else pc.indices_nonzero(mask).to_pylist()
        for row in rows:
            reasons[row] = reasons[row] or f"missing:{name}"
    times = _row_times(table, rule.time_field)
    for row, reason in enumerate(reasons):
        if reason is None:
            continue
        at = times[row]
        if window is None or at is None or window[0] <= at < window[1]:
            counts.add_malformed(path, row + 1, reason, unit="row")
    return table.filter(pa.array([reason is None for reason in reasons]))


def _row_times(table: pa.Table, name: str | None) -> list[datetime | None]:
    if name is None or name not in table.column_names or not pa.types.is_timestamp(table.column(name).type):
        return [None] * table.num_rows
    values: list[datetime | None] = table.column(name).to_pylist()
    return values
