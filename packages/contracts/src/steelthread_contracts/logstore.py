"""The prediction log and feedback as PostgreSQL tables: one definition, serving writes, monitoring reads.

Serving and monitoring never import each other, so the tables live with the record contract they store
(steelthread_contracts.log, `FeedbackRecord`). Each row keeps the whole record as `jsonb` (the contract,
schema-versioned, readable by the same reader as a JSON-lines file) plus the columns a query needs: the key
that makes a record unique, the time a window selects on, the model version and the entity key.

Writers insert a batch as one JSON array (one statement, one round trip) and the database extracts the key
columns; `ON CONFLICT DO NOTHING` on the key makes every insert idempotent, so a batch replayed after an
outage (or written twice by a retry) never duplicates a record. Only SQL text lives here: the driver (psycopg
3, with `%s` placeholders) belongs to each app's optional `postgres` extra. The statements interpolate only
this module's constants, never input.
"""

from __future__ import annotations

from typing import Final

from steelthread_contracts.log import ENTITY_FIELD

PREDICTION_TABLE: Final = "prediction_log"
FEEDBACK_TABLE: Final = "prediction_feedback"
SCHEMA_LOCK: Final = 0x5754_4C4F_4701
"""Advisory-lock key serialising the DDL: `CREATE TABLE IF NOT EXISTS` run by several replicas starting at
once can otherwise fail on the catalog's unique index."""

SCHEMA: Final[tuple[str, ...]] = (
    f"""CREATE TABLE IF NOT EXISTS {PREDICTION_TABLE} (
        request_id text PRIMARY KEY,
        logged_at timestamptz NOT NULL,
        model_version text,
        {ENTITY_FIELD} bigint,
        stored_at timestamptz NOT NULL DEFAULT now(),
        record jsonb NOT NULL
    )""",
    f"CREATE INDEX IF NOT EXISTS {PREDICTION_TABLE}_logged_at ON {PREDICTION_TABLE} (logged_at)",
    f"""CREATE TABLE IF NOT EXISTS {FEEDBACK_TABLE} (
        request_id text NOT NULL,
        observed_at timestamptz NOT NULL,
        stored_at timestamptz NOT NULL DEFAULT now(),
        record jsonb NOT NULL,
        PRIMARY KEY (request_id, observed_at)
    )""",
)
"""Idempotent DDL, run by every writer on connecting (under SCHEMA_LOCK) and by the tests."""

INSERT_PREDICTIONS: Final = f"""
    INSERT INTO {PREDICTION_TABLE} (request_id, logged_at, model_version, {ENTITY_FIELD}, record)
    SELECT r->>'request_id', (r->>'logged_at')::timestamptz, r->>'model_version',
           (r->>'{ENTITY_FIELD}')::bigint, r
    FROM jsonb_array_elements(%s::jsonb) AS r
    ON CONFLICT (request_id) DO NOTHING
"""  # noqa: S608
"""One parameter: the batch as a JSON array of PredictionLogRecord documents."""

INSERT_FEEDBACK: Final = f"""
    INSERT INTO {FEEDBACK_TABLE} (request_id, observed_at, record)
    SELECT r->>'request_id', (r->>'observed_at')::timestamptz, r
    FROM jsonb_array_elements(%s::jsonb) AS r
    ON CONFLICT (request_id, observed_at) DO NOTHING
"""  # noqa: S608
"""One parameter: the batch as a JSON array of FeedbackRecord documents. A label is one observation per
request and time: the same one sent twice (or replayed) is stored once."""

COPY_WINDOW: Final = f"""
    COPY (SELECT record FROM {PREDICTION_TABLE} WHERE logged_at >= %s AND logged_at < %s
          ORDER BY logged_at, request_id) TO STDOUT
"""  # noqa: S608
"""The records logged in [start, end), one JSON document per line (COPY's text format)."""

COPY_WINDOW_FEEDBACK: Final = f"""
    COPY (SELECT f.record FROM {FEEDBACK_TABLE} AS f JOIN {PREDICTION_TABLE} AS p USING (request_id)
          WHERE p.logged_at >= %s AND p.logged_at < %s
          ORDER BY f.observed_at, f.stored_at) TO STDOUT
"""  # noqa: S608
"""The labels that have arrived for the records logged in [start, end), oldest observation first."""
