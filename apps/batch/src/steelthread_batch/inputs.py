"""Reading the input: schema checks, the part plan, and streaming one part.

The input is split into parts along parquet row groups, in file order, so the plan depends only on the
files: a resumed run recomputes the same parts and skips those already committed. A part is the unit of
atomic commit; memory is bounded by one part when features are joined, and by one Arrow batch otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.dataset as ds

from steelthread_batch.columns import (
    ENTITY_KEY,
    EVENT_TIME_ALIAS,
    EVENT_TIMESTAMP,
    REQUEST_FIELDS,
    REQUEST_ID,
)
from steelthread_batch.errors import BatchInputError
from steelthread_batch.storage import Location

_PARQUET = ds.ParquetFileFormat()


@dataclass(frozen=True)
class Part:
    """Row groups of the input that make one output part."""

    index: int
    rows: int
    pieces: tuple[tuple[str, tuple[int, ...]], ...]

    @property
    def name(self) -> str:
        return f"part-{self.index:05d}"

    def as_json(self) -> dict[str, object]:
        return {"index": self.index, "rows": self.rows, "pieces": [[p, list(g)] for p, g in self.pieces]}


def open_input(location: Location) -> ds.FileSystemDataset:
    try:
        dataset = ds.dataset(location.path, filesystem=location.fs, format="parquet")
    except (FileNotFoundError, OSError, pa.ArrowInvalid) as exc:
        raise BatchInputError(f"cannot read input {location.uri}: {' '.join(str(exc).split())}") from None
    if not dataset.files:
        raise BatchInputError(f"input {location.uri} holds no parquet files")
    return dataset


def event_time_column(schema: pa.Schema) -> str:
    if EVENT_TIMESTAMP in schema.names:
        return EVENT_TIMESTAMP
    if EVENT_TIME_ALIAS in schema.names:
        return EVENT_TIME_ALIAS
    raise BatchInputError(f"input is missing column {EVENT_TIMESTAMP!r} (or {EVENT_TIME_ALIAS!r})")


def _kind_ok(name: str, type_: pa.DataType, expected: str) -> None:
    checks = {
        "string": pa.types.is_string(type_) or pa.types.is_large_string(type_),
        "integer": pa.types.is_integer(type_),
        "number": (pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_)),
        "timestamp": pa.types.is_timestamp(type_) and type_.tz is not None,
    }
    if not checks[expected]:
        raise BatchInputError(f"input column {name!r} must be {expected}, got {type_}")


def needs_join(schema: pa.Schema, feature_names: Sequence[str]) -> bool:
    """True when the input does not already carry every feature the model needs."""
    return not all(name in schema.names for name in feature_names)


def check_schema(schema: pa.Schema, feature_names: Sequence[str]) -> bool:
    """Stop on a missing or mistyped column before any output exists; returns whether to join features."""
    for name, kind in ((REQUEST_ID, "string"), (ENTITY_KEY, "integer")):
        if name not in schema.names:
            raise BatchInputError(f"input is missing column {name!r}")
        _kind_ok(name, schema.field(name).type, kind)
    time_column = event_time_column(schema)
    _kind_ok(time_column, schema.field(time_column).type, "timestamp")
    join = needs_join(schema, feature_names)
    for name, type_ in REQUEST_FIELDS.items():
        if name not in schema.names:
            if join:
                raise BatchInputError(f"input is missing column {name!r} (needed to compute features)")
            continue
        kind = (
            "string" if pa.types.is_string(type_) else "integer" if pa.types.is_integer(type_) else "number"
        )
        _kind_ok(name, schema.field(name).type, kind)
    if not join:
        for name in feature_names:
            _kind_ok(name, schema.field(name).type, "number")
    return join


def plan_parts(dataset: ds.FileSystemDataset, rows_per_part: int) -> list[Part]:
    """Consecutive row groups, in file order, grouped until a part holds at least `rows_per_part` rows."""
    parts: list[Part] = []
    pieces: list[tuple[str, list[int]]] = []
    rows = 0

    def close() -> None:
        nonlocal pieces, rows
        if rows:
            frozen = tuple((p, tuple(g)) for p, g in pieces)
            parts.append(Part(len(parts), rows, frozen))
        pieces, rows = [], 0

    for fragment in sorted(dataset.get_fragments(), key=lambda f: f.path):
        metadata = fragment.metadata
        for group in range(metadata.num_row_groups):
            count = metadata.row_group(group).num_rows
            if count == 0:
                continue
            if pieces and pieces[-1][0] == fragment.path:
                pieces[-1][1].append(group)
            else:
                pieces.append((fragment.path, [group]))
            rows += count
            if rows >= rows_per_part:
                close()
    close()
    return parts


def part_batches(
    dataset: ds.FileSystemDataset, part: Part, columns: Sequence[str], batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """Stream one part's rows as record batches of at most `batch_rows` rows."""
    for path, groups in part.pieces:
        fragment = _PARQUET.make_fragment(path, filesystem=dataset.filesystem, row_groups=list(groups))
        yield from fragment.to_batches(
            schema=dataset.schema, columns=list(columns), batch_size=batch_rows, use_threads=True
        )


def input_fingerprint(dataset: ds.FileSystemDataset) -> list[list[object]]:
    """(path, size) per file: a resumed run must see the same input."""
    out: list[list[object]] = []
    for path in sorted(dataset.files):
        info = dataset.filesystem.get_file_info(path)
        out.append([path, info.size])
    return out
