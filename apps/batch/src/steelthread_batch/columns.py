"""Column names and the exact Arrow schema the scorer produces.

Spark's `mapInArrow` needs the output schema declared up front and fails on a mismatch (a float32 score in
a `double` column), so the schema is computed by one function from the input schema and the package, and
the scorer casts every batch to exactly that schema.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from steelthread_batch.package import ModelPackage

REQUEST_ID: Final = "request_id"
CUSTOMER_ID: Final = "customer_id"
EVENT_TIMESTAMP: Final = "event_timestamp"
APPLICATION_TIMESTAMP: Final = "application_timestamp"
"""The generator's applications table names the event time this way; it is accepted as an alias."""
SCORE: Final = "score"
DECISION: Final = "decision"
MODEL_NAME: Final = "model_name"
MODEL_VERSION: Final = "model_version"
THRESHOLD: Final = "threshold"
RUN_ID: Final = "batch_run_id"
SCORED_AT: Final = "scored_at"
LATENCY_MS: Final = "latency_ms"
QUARANTINE_REASON: Final = "quarantine_reason"

TIMESTAMP: Final = pa.timestamp("us", tz="UTC")

KEY_FIELDS: Final[tuple[pa.Field, ...]] = (
    pa.field(REQUEST_ID, pa.string()),
    pa.field(CUSTOMER_ID, pa.int64()),
    pa.field(EVENT_TIMESTAMP, TIMESTAMP),
)
RESULT_FIELDS: Final[tuple[pa.Field, ...]] = (
    pa.field(SCORE, pa.float64()),
    pa.field(DECISION, pa.string()),
    pa.field(MODEL_NAME, pa.string()),
    pa.field(MODEL_VERSION, pa.string()),
    pa.field(THRESHOLD, pa.float64()),
    pa.field(RUN_ID, pa.string()),
    pa.field(SCORED_AT, TIMESTAMP),
    pa.field(LATENCY_MS, pa.float64()),
    pa.field(QUARANTINE_REASON, pa.string()),
)
REQUEST_FIELDS: Final[dict[str, pa.DataType]] = {
    "loan_amount": pa.float64(),
    "term_months": pa.int64(),
    "purpose": pa.string(),
    "declared_income": pa.float64(),
}
"""Application fields of the API contract; passed through and validated when the input has them."""

SCORE_COLUMNS: Final[tuple[str, ...]] = (
    REQUEST_ID,
    CUSTOMER_ID,
    EVENT_TIMESTAMP,
    SCORE,
    DECISION,
    MODEL_NAME,
    MODEL_VERSION,
    THRESHOLD,
    RUN_ID,
    SCORED_AT,
)
"""Columns of the `scores/` output (the consumer-facing table)."""
QUARANTINE_COLUMNS: Final[tuple[str, ...]] = (
    REQUEST_ID,
    CUSTOMER_ID,
    EVENT_TIMESTAMP,
    QUARANTINE_REASON,
    MODEL_VERSION,
    RUN_ID,
    SCORED_AT,
)


def output_schema(input_schema: pa.Schema, package: ModelPackage) -> pa.Schema:
    """Keys, results, the request fields the input has, then the package's features (float64)."""
    names = set(input_schema.names)
    fields = [*KEY_FIELDS, *RESULT_FIELDS]
    fields += [pa.field(n, t) for n, t in REQUEST_FIELDS.items() if n in names]
    fields += [pa.field(n, pa.float64()) for n in package.feature_names]
    return pa.schema(fields)
