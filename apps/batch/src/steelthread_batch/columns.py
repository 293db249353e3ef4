"""Column names and the exact Arrow schema the scorer produces.

Every domain name comes from the active use case (`steelthread_contracts.usecase.active()`): the request
id, the entity key, the event time (and the events table's own name for it, accepted as an alias) and the
request fields with their storage types. Nothing here names a field of any one use case.

Spark's `mapInArrow` needs the output schema declared up front and fails on a mismatch (a float32 score in
a `double` column), so the schema is computed by one function from the input schema and the package, and
the scorer casts every batch to exactly that schema.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from steelthread_batch.package import ModelPackage
from steelthread_contracts.usecase import UseCase, active

USE_CASE: Final[UseCase] = active()

REQUEST_ID: Final = USE_CASE.tables.request_id
ENTITY_KEY: Final = USE_CASE.join_key
"""The entity's join key (an integer column): the credit example's `customer_id`."""
EVENT_TIMESTAMP: Final = USE_CASE.tables.event_timestamp
EVENT_TIME_ALIAS: Final = USE_CASE.tables.event_time
"""The events table's name for the event time (the generator writes it); accepted as the event time."""
SCORE: Final = "score"
DECISION: Final = "decision"
DECIDED_BY: Final = "decided_by"
"""Which rule of the decision policy decided (`steelthread_contracts.api.DecisionSource`)."""
MODEL_NAME: Final = "model_name"
MODEL_VERSION: Final = "model_version"
THRESHOLD: Final = "threshold"
RUN_ID: Final = "batch_run_id"
SCORED_AT: Final = "scored_at"
LATENCY_MS: Final = "latency_ms"
QUARANTINE_REASON: Final = "quarantine_reason"
REASON_CODES: Final = "reason_codes"
"""With `--reasons`: the codes of an adverse decision's reasons, largest first, at most four
(`steelthread_contracts.explain.reason_codes`, as serving's `explain=true` answers them); empty for an
approval, null for a quarantined row."""
REASON_CODES_TYPE: Final = pa.list_(pa.string())

TIMESTAMP: Final = pa.timestamp("us", tz="UTC")

KEY_FIELDS: Final[tuple[pa.Field, ...]] = (
    pa.field(REQUEST_ID, pa.string()),
    pa.field(ENTITY_KEY, pa.int64()),
    pa.field(EVENT_TIMESTAMP, TIMESTAMP),
)
RESULT_FIELDS: Final[tuple[pa.Field, ...]] = (
    pa.field(SCORE, pa.float64()),
    pa.field(DECISION, pa.string()),
    pa.field(DECIDED_BY, pa.string()),
    pa.field(MODEL_NAME, pa.string()),
    pa.field(MODEL_VERSION, pa.string()),
    pa.field(THRESHOLD, pa.float64()),
    pa.field(RUN_ID, pa.string()),
    pa.field(SCORED_AT, TIMESTAMP),
    pa.field(LATENCY_MS, pa.float64()),
    pa.field(QUARANTINE_REASON, pa.string()),
)
STORAGE_TYPES: Final[dict[str, pa.DataType]] = {
    "float64": pa.float64(),
    "int64": pa.int64(),
    "string": pa.string(),
}
REQUEST_FIELDS: Final[dict[str, pa.DataType]] = {
    f.name: STORAGE_TYPES[f.storage] for f in USE_CASE.request_fields
}
"""The use case's request fields (the API contract's, besides the entity key) with their storage types;
passed through and validated when the input has them."""

SCORE_COLUMNS: Final[tuple[str, ...]] = (
    REQUEST_ID,
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    SCORE,
    DECISION,
    MODEL_NAME,
    MODEL_VERSION,
    THRESHOLD,
    RUN_ID,
    SCORED_AT,
)
"""Columns of the `scores/` output (the consumer-facing table); `score_columns` adds the reason codes."""


def score_columns(schema: pa.Schema) -> tuple[str, ...]:
    """The `scores/` columns of a scored batch's schema: SCORE_COLUMNS, then the reason codes if written."""
    return (*SCORE_COLUMNS, *((REASON_CODES,) if REASON_CODES in schema.names else ()))


QUARANTINE_COLUMNS: Final[tuple[str, ...]] = (
    REQUEST_ID,
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    QUARANTINE_REASON,
    MODEL_VERSION,
    RUN_ID,
    SCORED_AT,
)


def output_schema(input_schema: pa.Schema, package: ModelPackage) -> pa.Schema:
    """Keys, results (and the reason codes when the run writes them), the request fields the input has,
    then the package's features (float64)."""
    names = set(input_schema.names)
    fields = [*KEY_FIELDS, *RESULT_FIELDS]
    if package.reasons:
        fields.append(pa.field(REASON_CODES, REASON_CODES_TYPE))
    fields += [pa.field(n, t) for n, t in REQUEST_FIELDS.items() if n in names]
    fields += [pa.field(n, pa.float64()) for n in package.feature_names]
    return pa.schema(fields)
