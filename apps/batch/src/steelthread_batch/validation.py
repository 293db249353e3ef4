"""Row checks that send a row to quarantine instead of failing the run.

The rules for application fields are those of the API contract (`PredictionRequest`), so a row batch
refuses is a request serving would have refused with 422. Column-level problems (a missing column, a
column of the wrong type) are not row problems: `inputs.check_schema` stops the run before any output.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from steelthread_batch.columns import CUSTOMER_ID, EVENT_TIMESTAMP, QUARANTINE_REASON, REQUEST_ID
from steelthread_contracts import LoanPurpose

TERMS = (12, 24, 36, 48, 60)
PURPOSES = tuple(p.value for p in LoanPurpose)
RANGES: dict[str, tuple[float, float, bool]] = {
    # name: (low, high, low is exclusive)
    "loan_amount": (0.0, 1_000_000.0, True),
    "declared_income": (0.0, 10_000_000.0, False),
}


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


def row_reasons(batch: pa.RecordBatch, feature_names: Sequence[str] = ()) -> Reasons:
    """Quarantine reasons for the keys, the application fields present and the given features."""
    names = set(batch.schema.names)
    previous = batch.column(QUARANTINE_REASON) if QUARANTINE_REASON in names else None
    reasons = Reasons(batch.num_rows, previous)
    request_id = batch.column(REQUEST_ID)
    empty = pc.fill_null(pc.equal(pc.utf8_length(request_id), 0), True)
    reasons.mark(np.asarray(empty.to_numpy(zero_copy_only=False), dtype=bool), f"missing_value:{REQUEST_ID}")
    for name in (CUSTOMER_ID, EVENT_TIMESTAMP):
        reasons.mark(_nulls(batch.column(name)), f"missing_value:{name}")
    for name, (low, high, exclusive) in RANGES.items():
        if name not in names:
            continue
        column = batch.column(name)
        reasons.mark(_nulls(column), f"missing_value:{name}")
        values = np.asarray(pc.fill_null(column, 0.0).to_numpy(zero_copy_only=False), dtype=np.float64)
        with np.errstate(invalid="ignore"):
            below = values <= low if exclusive else values < low
            bad = below | (values > high) | ~np.isfinite(values)
        reasons.mark(bad, f"invalid_value:{name}")
    if "term_months" in names:
        column = batch.column("term_months")
        reasons.mark(_nulls(column), "missing_value:term_months")
        allowed = pc.fill_null(pc.is_in(column, value_set=pa.array(TERMS, column.type)), True)
        reasons.mark(
            ~np.asarray(allowed.to_numpy(zero_copy_only=False), dtype=bool), "invalid_value:term_months"
        )
    if "purpose" in names:
        column = batch.column("purpose")
        reasons.mark(_nulls(column), "missing_value:purpose")
        allowed = pc.fill_null(pc.is_in(column, value_set=pa.array(PURPOSES, pa.string())), True)
        reasons.mark(~np.asarray(allowed.to_numpy(zero_copy_only=False), dtype=bool), "invalid_value:purpose")
    return reasons


def stored_feature_positions(feature_names: Sequence[str]) -> list[int]:
    """Positions of the features that come from the feature store (not computed from the request)."""
    from steelthread_features.definitions import FEATURE_VIEW_OF

    stored = [j for j, name in enumerate(feature_names) if name in FEATURE_VIEW_OF]
    return stored or list(range(len(feature_names)))


def feature_matrix(batch: pa.RecordBatch, feature_names: Sequence[str], reasons: Reasons) -> np.ndarray:
    """The float32 model input (nulls as NaN).

    Marked: rows with an infinite value, and rows where every stored feature is missing (a customer the
    feature store does not know as of the row's time: the score would rest on the application alone).
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
