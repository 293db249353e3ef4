"""Row checks that send a row to quarantine instead of failing the run.

The rules for request fields are the active use case's (`RequestField.accepts`, the rule the API's
request model applies), evaluated over whole Arrow columns, so a row batch refuses is a request serving
would have refused with 422. Column-level problems (a missing column, a column of the wrong type) are not
row problems: `inputs.check_schema` stops the run before any output.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from steelthread_batch.columns import ENTITY_KEY, EVENT_TIMESTAMP, QUARANTINE_REASON, REQUEST_ID, USE_CASE
from steelthread_contracts.usecase import RequestField


class Reasons:
    """First reason per row wins; code 0 means the row is fine so far.

    Reasons are kept as small integer codes (one comparison per `mark`, no Python objects per row) and
    turned into strings once, when the batch is finished.
    """

    def __init__(self, n: int, initial: pa.Array | None = None) -> None:
        self.codes = np.zeros(n, dtype=np.int16)
        self.names: list[str] = [""]
        if initial is not None and initial.null_count < len(initial):
            for i, value in enumerate(initial.to_pylist()):
                if value is not None:
                    self.codes[i] = self._code(value)

    def _code(self, reason: str) -> int:
        if reason not in self.names:
            self.names.append(reason)
        return self.names.index(reason)

    def mark(self, mask: np.ndarray, reason: str) -> None:
        fresh = mask & (self.codes == 0)
        if fresh.any():
            self.codes[fresh] = self._code(reason)

    @property
    def ok(self) -> np.ndarray:
        ok: np.ndarray = self.codes == 0
        return ok

    def array(self) -> pa.Array:
        if not self.codes.any():
            return pa.nulls(len(self.codes), pa.string())
        dictionary = pa.array(self.names, type=pa.string())
        indices = pa.array(self.codes, mask=self.codes == 0, type=pa.int16())
        result: pa.Array = pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.string())
        return result


def _nulls(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.is_null(column, nan_is_null=True).to_numpy(zero_copy_only=False), dtype=bool)


def _as_bool(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)


def refused(field: RequestField, column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Rows whose (non-null) value `field.accepts` refuses, computed over the whole column.

    The same rule as `RequestField.accepts` (a test compares the two value by value): a choice must be
    one of `choices`; a number must be finite, whole for an `integer`, and inside every stated bound.
    Nulls are not refused here: they are `missing_value`, marked first.
    """
    if field.kind == "choice":
        try:
            allowed_values = pa.array(list(field.choices)).cast(column.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            allowed_values = pa.array([], column.type)
        allowed = pc.fill_null(pc.is_in(column, value_set=allowed_values), True)
        return ~_as_bool(allowed)
    filled = pc.fill_null(pc.cast(column, pa.float64()), 0.0)
    values = np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.float64)
    bad: np.ndarray = ~np.isfinite(values)
    if field.kind == "integer":
        bad |= np.floor(values) != values
    with np.errstate(invalid="ignore"):
        if field.ge is not None:
            bad |= values < field.ge
        if field.gt is not None:
            bad |= values <= field.gt
        if field.le is not None:
            bad |= values > field.le
        if field.lt is not None:
            bad |= values >= field.lt
    return bad


def row_reasons(batch: pa.RecordBatch, fields: Sequence[RequestField] = USE_CASE.request_fields) -> Reasons:
    """Quarantine reasons for the keys and for the request fields present, in declaration order:
    `missing_value:<column>` for a null (or NaN), `invalid_value:<column>` for a value the field's rule
    refuses; the first reason per row wins."""
    names = set(batch.schema.names)
    previous = batch.column(QUARANTINE_REASON) if QUARANTINE_REASON in names else None
    reasons = Reasons(batch.num_rows, previous)
    request_id = batch.column(REQUEST_ID)
    empty = pc.fill_null(pc.equal(pc.utf8_length(request_id), 0), True)
    reasons.mark(_as_bool(empty), f"missing_value:{REQUEST_ID}")
    for name in (ENTITY_KEY, EVENT_TIMESTAMP):
        reasons.mark(_nulls(batch.column(name)), f"missing_value:{name}")
    for field in fields:
        if field.name not in names:
            continue
        column = batch.column(field.name)
        reasons.mark(_nulls(column), f"missing_value:{field.name}")
        reasons.mark(refused(field, column), f"invalid_value:{field.name}")
    return reasons


def stored_feature_positions(feature_names: Sequence[str]) -> list[int]:
    """Positions of the features that come from the feature store (not computed from the request)."""
    from steelthread_features.definitions import FEATURE_VIEW_OF

    stored = [j for j, name in enumerate(feature_names) if name in FEATURE_VIEW_OF]
    return stored or list(range(len(feature_names)))


def feature_matrix(batch: pa.RecordBatch, feature_names: Sequence[str], reasons: Reasons) -> np.ndarray:
    """The float32 model input (nulls as NaN).

    Marked: rows with an infinite value, and rows where every stored feature is missing (an entity the
    feature store does not know as of the row's time: the score would rest on the request alone).
    """
    matrix = np.empty((batch.num_rows, len(feature_names)), dtype=np.float32)
    for j, name in enumerate(feature_names):
        column = batch.column(name)
        if column.null_count:
            column = pc.fill_null(pc.cast(column, pa.float64()), np.nan)
        matrix[:, j] = column.to_numpy(zero_copy_only=False)
    infinite = np.isinf(matrix)
    if infinite.any():
        for column_index in np.flatnonzero(infinite.any(axis=0)).tolist():
            reasons.mark(infinite[:, column_index], f"invalid_value:{feature_names[column_index]}")
    if feature_names:
        stored = stored_feature_positions(feature_names)
        reasons.mark(np.asarray(np.isnan(matrix[:, stored]).all(axis=1)), "missing_features")
    return matrix
