"""The one scoring function both engines run.

`score_batches` has exactly the shape Spark's `mapInArrow` expects (iterator of Arrow record batches in,
iterator out), once `package` and `run` are bound with `scorer`. The local engine streams parquet
batches through it, Spark hands it to its Python workers; no scoring logic exists twice. Every input row
comes out as exactly one row: scored (`score`, `decision` set) or quarantined (`quarantine_reason` set).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from steelthread_batch import sessions
from steelthread_batch.columns import (
    DECIDED_BY,
    DECISION,
    EVENT_TIME_ALIAS,
    EVENT_TIMESTAMP,
    LATENCY_MS,
    MODEL_NAME,
    MODEL_VERSION,
    QUARANTINE_REASON,
    REASON_CODES,
    REASON_CODES_TYPE,
    RUN_ID,
    SCORE,
    SCORED_AT,
    THRESHOLD,
    TIMESTAMP,
    USE_CASE,
    output_schema,
)
from steelthread_batch.errors import BatchInputError
from steelthread_batch.package import ModelPackage
from steelthread_batch.validation import feature_matrix, row_reasons
from steelthread_contracts.api import Decision
from steelthread_contracts.decision import BELOW_ALL_CUTS, DEFAULT_POLICY, Thresholds
from steelthread_contracts.explain import is_adverse, reason_codes
from steelthread_contracts.package import Task

BatchScorer = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


@dataclass(frozen=True)
class RunInfo:
    """What every output row of one run carries; `started_at` is the run's time, stable across resumes."""

    run_id: str
    started_at: datetime
    threads: int = 0
    device: str = "cpu"


def decide(
    scores: pa.Array, thresholds: Thresholds | None, fallback: Decision = DEFAULT_POLICY.fallback
) -> pa.Array:
    """The decision policy's rule (`steelthread_contracts.decision`) over an Arrow array: its cuts applied
    highest first, the first one a score reaches decides; without cuts every score gets the policy's
    `fallback`. A null score gets a null decision (the row is quarantined with its reason)."""
    if thresholds is None:
        answer: pa.Array = pc.if_else(pc.is_valid(scores), fallback.value, pa.scalar(None, pa.string()))
        return answer
    decision: pa.Array = pa.scalar(BELOW_ALL_CUTS.value, pa.string())
    for cut, label in reversed(thresholds.cuts()):
        reached = pc.greater_equal(scores, pa.scalar(cut, pa.float64()))
        decision = pc.if_else(reached, label.value, decision)
    return decision


def _constant(value: object, type_: pa.DataType, n: int) -> pa.Array:
    array: pa.Array = pa.repeat(pa.scalar(value, type_), n)
    return array


def predict(package: ModelPackage, matrix: np.ndarray, run: RunInfo) -> np.ndarray:
    """The score (float32) for each row of a float32 matrix: the positive class's probability for a
    binary package, the prediction for a regression package (an [N] or [N, 1] output)."""
    if run.device == "cuda":
        from steelthread_batch.gpu import predict_on_device

        return predict_on_device(package, matrix, "cuda")
    session = sessions.session_for(package, run.threads)
    (out,) = session.run([package.output_name], {package.input_name: matrix})
    array = np.asarray(out, dtype=np.float32)
    if package.task is not Task.REGRESSION:  # a classifier: the probability of the class it scores
        if array.ndim == 2 and array.shape[1] != 1 and package.positive_class_index is not None:
            return array[:, package.positive_class_index]
    elif array.ndim > 2 or (array.ndim == 2 and array.shape[1] != 1):
        raise BatchInputError(
            f"{package.directory}: a {package.task.value} model must output [N] or [N, 1], "
            f"got shape {list(array.shape)}"
        )
    return array.reshape(-1)


def reason_code_lists(
    package: ModelPackage, matrix: np.ndarray, ok: np.ndarray, decisions: pa.Array
) -> pa.Array:
    """Each row's reason codes (`--reasons`): the same ranking serving answers `explain=true` with, from
    the package's booster on the float32 values the graph scored; null for a quarantined row."""
    codes: list[list[str] | None] = [None] * len(ok)
    rows = np.flatnonzero(ok)
    if len(rows):
        explainer = sessions.explainer_for(package)
        contributions = explainer.contributions(matrix[rows])
        decided = decisions.to_pylist()
        reasons = USE_CASE.reason_texts
        for row, values in zip(rows, contributions, strict=True):
            if not is_adverse(Decision(decided[row]), package.decided_by):
                codes[row] = []
                continue
            named = dict(zip(explainer.feature_names, values.tolist(), strict=False))
            codes[row] = [reason.code for reason in reason_codes(named, reasons)]
    array: pa.Array = pa.array(codes, type=REASON_CODES_TYPE)
    return array


def normalise(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Accept the events table's own event-time column (the use case's `tables.event_time`) as the
    event time."""
    names = batch.schema.names
    if EVENT_TIMESTAMP not in names and EVENT_TIME_ALIAS in names:
        return batch.rename_columns([EVENT_TIMESTAMP if n == EVENT_TIME_ALIAS else n for n in names])
    return batch


def score_batch(batch: pa.RecordBatch, package: ModelPackage, run: RunInfo) -> pa.RecordBatch:
    """Score one record batch; the result has `output_schema(batch.schema, package)` exactly."""
    started = time.perf_counter()
    batch = normalise(batch)
    schema = output_schema(batch.schema, package)
    n = batch.num_rows
    reasons = row_reasons(batch)
    matrix = feature_matrix(batch, package.feature_names, reasons)
    scores = np.full(n, np.nan, dtype=np.float64)
    ok = reasons.ok
    if ok.any():
        rows = matrix if ok.all() else np.ascontiguousarray(matrix[ok])
        scores[ok] = predict(package, rows, run)
    reasons.mark(~np.isfinite(scores), "invalid_score")
    ok = reasons.ok
    latency_ms = (time.perf_counter() - started) * 1000.0 / max(n, 1)
    score_array = pa.array(scores, mask=~ok, type=pa.float64())
    ok_array = pa.array(ok)
    decisions = decide(score_array, package.thresholds, package.fallback)
    columns: dict[str, pa.Array] = {
        SCORE: score_array,
        DECISION: decisions,
        DECIDED_BY: pc.if_else(ok_array, package.decided_by.value, pa.scalar(None, pa.string())),
        MODEL_NAME: _constant(package.name, pa.string(), n),
        MODEL_VERSION: _constant(package.version, pa.string(), n),
        THRESHOLD: _constant(package.threshold, pa.float64(), n),
        RUN_ID: _constant(run.run_id, pa.string(), n),
        SCORED_AT: _constant(run.started_at, TIMESTAMP, n),
        LATENCY_MS: _constant(latency_ms, pa.float64(), n),
        QUARANTINE_REASON: reasons.array(),
    }
    if package.reasons:
        columns[REASON_CODES] = reason_code_lists(package, matrix, ok, decisions)
    arrays = [columns[f.name] if f.name in columns else batch.column(f.name).cast(f.type) for f in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def score_batches(
    batches: Iterator[pa.RecordBatch], package: ModelPackage, run: RunInfo
) -> Iterator[pa.RecordBatch]:
    """Score a stream of record batches, one output batch per input batch (empty ones skipped)."""
    for batch in batches:
        if batch.num_rows:
            yield score_batch(batch, package, run)


def scorer(package: ModelPackage, run: RunInfo) -> BatchScorer:
    """`score_batches` with the package and run bound: what `mapInArrow` and the local engine call."""
    return partial(score_batches, package=package, run=run)
