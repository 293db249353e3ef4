"""Checks on entity frames and online requests, before anything reaches Feast.

Feast's own errors for a bad entity frame are late and cryptic (or silent: a string timestamp column is
parsed leniently); these name the offending column so a caller can fix the input.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from steelthread_features.definitions import (
    EVENT_TIMESTAMP,
    FEATURE_NAMES,
    JOIN_KEY,
    SLICE_COLUMNS,
    USE_CASE,
)
from steelthread_features.errors import FeatureInputError as FeatureInputError  # re-exported

ROW_ID = "steelthread_row_id"
"""Private column that carries each entity row's position through the join."""

EVENT_TIME = USE_CASE.tables.event_time
"""The events table's time column; `entity_frame` renames it to `event_timestamp`."""

# The active use case's request fields by how they are stored (`RequestField.storage`): the column type
# each must have in an entity frame, as in the events table and Feast's request source.
NUMERIC_REQUEST: tuple[str, ...] = tuple(f.name for f in USE_CASE.request_fields if f.storage == "float64")
INTEGER_REQUEST: tuple[str, ...] = tuple(f.name for f in USE_CASE.request_fields if f.storage == "int64")
STRING_REQUEST: tuple[str, ...] = tuple(f.name for f in USE_CASE.request_fields if f.storage == "string")
REQUIRED = (JOIN_KEY, EVENT_TIMESTAMP, *NUMERIC_REQUEST, *INTEGER_REQUEST, *STRING_REQUEST)


def check_feature_names(names: Iterable[str], known: Iterable[str]) -> list[str]:
    wanted = list(names)
    allowed = set(known)
    unknown = [n for n in wanted if n not in allowed]
    if unknown:
        raise FeatureInputError(
            unknown[0],
            f"unknown feature name(s): {', '.join(unknown)}; known: {', '.join(sorted(allowed))}",
        )
    return wanted


def _timestamps(column: pd.Series) -> pd.Series:
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        parsed = column.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(column.dtype):
        parsed = column.dt.tz_localize("UTC")
    elif pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype):
        try:
            parsed = pd.to_datetime(column, utc=True, format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise FeatureInputError(
                EVENT_TIMESTAMP, f"column {EVENT_TIMESTAMP!r} has a malformed timestamp: {exc}"
            ) from None
    else:
        raise FeatureInputError(
            EVENT_TIMESTAMP,
            f"column {EVENT_TIMESTAMP!r} must hold timestamps, got dtype {column.dtype}",
        )
    if parsed.isna().any():
        row = int(parsed.isna().to_numpy().nonzero()[0][0])
        raise FeatureInputError(
            EVENT_TIMESTAMP, f"column {EVENT_TIMESTAMP!r} is missing a timestamp at row {row}"
        )
    result: pd.Series = parsed.astype("datetime64[us, UTC]")
    return result


def check_entity_frame(entity_df: pd.DataFrame) -> pd.DataFrame:
    """A validated copy: UTC microsecond timestamps, int64 keys, each request field in its stored type
    (float64, int64 or strings), plus ROW_ID."""
    if not isinstance(entity_df, pd.DataFrame):
        raise FeatureInputError(None, f"entity_df must be a pandas DataFrame, got {type(entity_df)}")
    if len(entity_df) == 0:
        raise FeatureInputError(None, "entity_df is empty")
    missing = [c for c in REQUIRED if c not in entity_df.columns]
    if missing:
        raise FeatureInputError(missing[0], f"entity_df is missing column(s): {', '.join(missing)}")
    if entity_df.columns.duplicated().any():
        dup = str(entity_df.columns[entity_df.columns.duplicated()][0])
        raise FeatureInputError(dup, f"entity_df has duplicate column {dup!r}")
    clashes = [c for c in entity_df.columns if c in FEATURE_NAMES or c in SLICE_COLUMNS or c == ROW_ID]
    if clashes:
        raise FeatureInputError(
            str(clashes[0]),
            f"entity_df column(s) {', '.join(map(str, clashes))} clash with feature names",
        )
    out = entity_df.reset_index(drop=True).copy()
    key = out[JOIN_KEY]
    if not pd.api.types.is_integer_dtype(key.dtype) or key.isna().any():
        raise FeatureInputError(JOIN_KEY, f"column {JOIN_KEY!r} must be integers, got {key.dtype}")
    out[JOIN_KEY] = key.astype("int64")
    out[EVENT_TIMESTAMP] = _timestamps(out[EVENT_TIMESTAMP])
    for name in NUMERIC_REQUEST:
        if not pd.api.types.is_numeric_dtype(out[name].dtype) or pd.api.types.is_bool_dtype(out[name].dtype):
            raise FeatureInputError(name, f"column {name!r} must be numeric, got {out[name].dtype}")
        out[name] = out[name].astype("float64")
    for name in INTEGER_REQUEST:
        col = out[name]
        if not pd.api.types.is_integer_dtype(col.dtype) or col.isna().any():
            raise FeatureInputError(name, f"column {name!r} must be integers, got {col.dtype}")
        out[name] = col.astype("int64")
    for name in STRING_REQUEST:
        col = out[name]
        if pd.api.types.infer_dtype(col, skipna=False) == "string":
            out[name] = col.astype("object")
            continue
        non_str = ~col.map(lambda v: isinstance(v, str))
        if non_str.any():
            row = int(non_str.to_numpy().nonzero()[0][0])
            raise FeatureInputError(
                name, f"column {name!r} must hold strings, got {col.iloc[row]!r} at row {row}"
            )
        out[name] = col.astype("object")
    out[ROW_ID] = pd.RangeIndex(len(out), dtype="int64")
    return out


def entity_frame(events: pd.DataFrame) -> pd.DataFrame:
    """The generator's events table (one row per decision request) as a training entity frame: its event
    time column (`tables.event_time`) becomes `event_timestamp`."""
    if EVENT_TIME not in events.columns:
        raise FeatureInputError(EVENT_TIME, f"the {USE_CASE.tables.events} table needs column {EVENT_TIME!r}")
    return events.rename(columns={EVENT_TIME: EVENT_TIMESTAMP})
