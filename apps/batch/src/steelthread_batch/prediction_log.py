"""Scored rows in the prediction-log contract, as Arrow, so monitoring reads batch and online alike.

The columns are exactly `steelthread_contracts.PredictionLogRecord`'s fields with `source="batch"`;
`request` and `features` are structs and `scores` a list of structs, the same nesting Arrow's JSON reader
gives the online JSON-lines log. Both engines call `to_prediction_log` (Spark through `mapInArrow`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from steelthread_batch.columns import (
    DECIDED_BY,
    DECISION,
    ENTITY_KEY,
    LATENCY_MS,
    MODEL_NAME,
    MODEL_VERSION,
    QUARANTINE_REASON,
    REQUEST_FIELDS,
    REQUEST_ID,
    SCORE,
    SCORED_AT,
    TIMESTAMP,
)
from steelthread_contracts import PREDICTION_LOG_SCHEMA_VERSION, ServingMode
from steelthread_contracts.log import ENTITY_FIELD as LOG_ENTITY_FIELD
from steelthread_contracts.privacy import NO_POLICY, LogPolicy

SOURCE = "batch"
MODE = ServingMode.LIVE.value
"""Batch answers with the model itself: there is no fallback or shadow in a batch run."""

SCORE_RECORD = pa.struct(
    [
        pa.field("model_name", pa.string()),
        pa.field("model_version", pa.string()),
        pa.field("role", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("error", pa.string()),
    ]
)


def logged_features(feature_names: Sequence[str], policy: LogPolicy) -> list[str]:
    """The features a record keeps: the package's, less those the use case's privacy policy drops."""
    return [n for n in feature_names if n not in policy.dropped]


def prediction_log_schema(
    scored: pa.Schema, feature_names: Sequence[str], policy: LogPolicy = NO_POLICY
) -> pa.Schema:
    """The records' schema; the request fields and features the privacy policy drops are not in it."""
    feature_names = logged_features(feature_names, policy)
    request = [pa.field(ENTITY_KEY, pa.int64())]
    request += [
        pa.field(n, t) for n, t in REQUEST_FIELDS.items() if n in scored.names and n not in policy.dropped
    ]
    return pa.schema(
        [
            pa.field("schema_version", pa.int64()),
            pa.field("logged_at", TIMESTAMP),
            pa.field(REQUEST_ID, pa.string()),
            pa.field(LOG_ENTITY_FIELD, pa.int64()),
            pa.field("source", pa.string()),
            pa.field(MODEL_NAME, pa.string()),
            pa.field(MODEL_VERSION, pa.string()),
            pa.field("mode", pa.string()),
            pa.field("request", pa.struct(request)),
            pa.field("features", pa.struct([pa.field(n, pa.float64()) for n in feature_names])),
            pa.field(SCORE, pa.float64()),
            pa.field(DECISION, pa.string()),
            pa.field(DECIDED_BY, pa.string()),
            pa.field("degraded", pa.bool_()),
            pa.field("degraded_reason", pa.string()),
            pa.field("scores", pa.list_(SCORE_RECORD)),
            pa.field(LATENCY_MS, pa.float64()),
            pa.field("client", pa.string()),
        ]
    )


def pseudonymised(keys: pa.Array, policy: LogPolicy) -> pa.Array:
    """The entity keys as records store them: `policy.key` (the one owner of the pseudonym, serving's too)
    called once per distinct key of the batch, not once per row (HMAC is the costly part, and a batch repeats
    its entities), then taken back to the rows; a null key stays null."""
    if not policy.hash_key:
        return keys
    encoded = pc.dictionary_encode(keys)
    distinct = pa.array([policy.key(k) for k in encoded.dictionary.to_pylist()], pa.int64())
    mapped: pa.Array = distinct.take(encoded.indices)
    return mapped


def _repeat(value: object, type_: pa.DataType, n: int) -> pa.Array:
    array: pa.Array = pa.repeat(pa.scalar(value, type_), n)
    return array


def to_prediction_log(
    batch: pa.RecordBatch, feature_names: Sequence[str], role: str, policy: LogPolicy = NO_POLICY
) -> pa.RecordBatch:
    """The scored (not quarantined) rows of a scorer output batch as prediction-log records, kept as the
    use case's privacy policy says (the entity key pseudonymised, dropped fields left out)."""
    kept = pc.is_null(batch.column(QUARANTINE_REASON))
    if not pc.all(kept).as_py():
        batch = batch.filter(kept)
    schema = prediction_log_schema(batch.schema, feature_names, policy)
    feature_names = logged_features(feature_names, policy)
    n = batch.num_rows
    key = pseudonymised(batch.column(ENTITY_KEY), policy)
    request_type = schema.field("request").type
    request = pa.StructArray.from_arrays(
        [key if f.name == ENTITY_KEY else batch.column(f.name) for f in request_type],
        fields=list(request_type),
    )
    features = pa.StructArray.from_arrays(
        [batch.column(name) for name in feature_names], names=list(feature_names)
    )
    entry = pa.StructArray.from_arrays(
        [
            batch.column(MODEL_NAME),
            batch.column(MODEL_VERSION),
            _repeat(role, pa.string(), n),
            batch.column(SCORE),
            pa.nulls(n, pa.string()),
        ],
        fields=list(SCORE_RECORD),
    )
    scores = pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), entry)
    arrays = [
        _repeat(PREDICTION_LOG_SCHEMA_VERSION, pa.int64(), n),
        batch.column(SCORED_AT),
        batch.column(REQUEST_ID),
        key,
        _repeat(SOURCE, pa.string(), n),
        batch.column(MODEL_NAME),
        batch.column(MODEL_VERSION),
        _repeat(MODE, pa.string(), n),
        request,
        features,
        batch.column(SCORE),
        batch.column(DECISION),
        batch.column(DECIDED_BY),
        _repeat(False, pa.bool_(), n),
        pa.nulls(n, pa.string()),
        scores,
        batch.column(LATENCY_MS),
        pa.nulls(n, pa.string()),  # client: no API key asked for a batch record
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
