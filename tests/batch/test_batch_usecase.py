"""Batch's quarantine rules are the active use case's request-field rules, not credit's.

The expected reasons are built here from `active().request_fields` alone (each field's `accepts`, the rule
the API's request model applies, value by value in Python), never from credit's column names; the batch
computes them over whole Arrow columns. A fixture set of fields that has nothing to do with credit (a
delivery) shows that nothing else is hiding in the checks.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from steelthread_batch.columns import (
    ENTITY_KEY,
    EVENT_TIME_ALIAS,
    EVENT_TIMESTAMP,
    REQUEST_FIELDS,
    REQUEST_ID,
    TIMESTAMP,
    output_schema,
)
from steelthread_batch.package import ModelPackage
from steelthread_batch.scoring import RunInfo, score_batches
from steelthread_batch.validation import row_reasons
from steelthread_contracts.usecase import RequestField, active

RUN = RunInfo(run_id="run-usecase", started_at=datetime(2026, 11, 1, tzinfo=UTC))
T0 = datetime(2026, 9, 1, tzinfo=UTC)


def _probes(field: RequestField) -> list[object]:
    """Values around the field's rule: its example, each bound and its neighbours, outsiders, missing."""
    if field.kind == "choice":
        outsider: object = "not-a-choice" if field.storage == "string" else max(map(int, field.choices)) + 1
        return [*field.choices, outsider, None]
    values: list[float] = [] if field.example is None else [float(field.example)]
    for bound in (field.ge, field.gt, field.le, field.lt):
        if bound is not None:
            values += [bound - 1, bound - 0.5, bound, bound + 0.5, bound + 1]
    values += [0.0, -1.0, math.inf, -math.inf, math.nan]
    if field.storage == "int64":
        return [int(v) for v in values if math.isfinite(v) and float(v).is_integer()] + [None]
    return [*values, None]


def _expected(field: RequestField, value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"missing_value:{field.name}"
    return None if field.accepts(value) else f"invalid_value:{field.name}"


def _valid_row(fields: tuple[RequestField, ...]) -> dict[str, object]:
    """Every field at its declared example (which its own rule accepts)."""
    row: dict[str, object] = {}
    for field in fields:
        assert field.accepts(field.example), field.name
        row[field.name] = field.example
    return row


def _table(
    rows: list[dict[str, object]], types: dict[str, pa.DataType], features: tuple[str, ...] = ()
) -> pa.Table:
    n = len(rows)
    rng = np.random.default_rng(0)
    columns: dict[str, pa.Array] = {
        REQUEST_ID: pa.array([f"req-{i}" for i in range(n)], pa.string()),
        ENTITY_KEY: pa.array(np.arange(1, n + 1), pa.int64()),
        EVENT_TIMESTAMP: pa.array([T0 + timedelta(minutes=i) for i in range(n)], TIMESTAMP),
    }
    for name, type_ in types.items():
        columns[name] = pa.array([row[name] for row in rows], type_, from_pandas=True)
    for name in features:
        columns[name] = pa.array(rng.normal(size=n), pa.float64())
    return pa.table(columns)


def test_quarantine_reasons_follow_the_active_use_cases_request_field_rules(package: ModelPackage) -> None:
    fields = active().request_fields
    assert list(REQUEST_FIELDS) == [f.name for f in fields]
    valid = _valid_row(fields)
    rows, expected = [], []
    for field in fields:
        for value in _probes(field):
            rows.append(valid | {field.name: value})
            expected.append(_expected(field, value))
    assert {r for r in expected if r} >= {f"invalid_value:{f.name}" for f in fields}
    table = _table(rows, REQUEST_FIELDS, package.feature_names)
    result = pa.Table.from_batches(list(score_batches(iter(table.to_batches(max_chunksize=7)), package, RUN)))
    assert result.schema.equals(output_schema(table.schema, package))
    assert result.column("quarantine_reason").to_pylist() == expected
    scored = [r is None for r in expected]
    assert [s is not None for s in result.column("score").to_pylist()] == scored


def test_the_first_reason_per_row_wins_in_declaration_order() -> None:
    fields = active().request_fields
    valid = _valid_row(fields)
    # Every field missing: the reason names the first declared field; keys are checked before fields.
    rows = [dict.fromkeys(valid), valid]
    batch = _table(rows, REQUEST_FIELDS).to_batches()[0]
    assert row_reasons(batch).array().to_pylist() == [f"missing_value:{fields[0].name}", None]
    no_key = batch.set_column(1, ENTITY_KEY, pa.array([None, None], pa.int64()))
    assert row_reasons(no_key).array().to_pylist() == [f"missing_value:{ENTITY_KEY}"] * 2


DELIVERY = (
    RequestField("distance_km", "number", ge=0, lt=500, example=12.5),
    RequestField("items", "integer", gt=0, le=50, example=3, stored_as="float64"),
    RequestField("vehicle", "choice", choices=("bike", "van"), example="van"),
    RequestField("zone", "choice", choices=(1, 2, 3), example=2),
)
"""A use case's request fields that share nothing with credit: a whole number stored as float64, an
exclusive upper bound, string and integer choices."""


@pytest.mark.parametrize("field", DELIVERY, ids=[f.name for f in DELIVERY])
def test_columnar_checks_agree_with_accepts_for_fields_of_any_use_case(field: RequestField) -> None:
    from steelthread_batch.columns import STORAGE_TYPES

    types = {f.name: STORAGE_TYPES[f.storage] for f in DELIVERY}
    valid = _valid_row(DELIVERY)
    probes = _probes(field)
    if field.kind == "integer":
        probes += [2.5, 49.999]  # stored as float64: a fraction is refused by the whole-number rule
    rows = [valid | {field.name: value} for value in probes]
    batch = _table(rows, types).to_batches()[0]
    got = row_reasons(batch, DELIVERY).array().to_pylist()
    assert got == [_expected(field, value) for value in probes]
    assert f"invalid_value:{field.name}" in got


def test_the_events_tables_event_time_column_is_accepted_as_the_event_time(package: ModelPackage) -> None:
    fields = active().request_fields
    table = _table([_valid_row(fields)] * 3, REQUEST_FIELDS, package.feature_names)
    if EVENT_TIME_ALIAS != EVENT_TIMESTAMP:
        table = table.rename_columns(
            [EVENT_TIME_ALIAS if n == EVENT_TIMESTAMP else n for n in table.column_names]
        )
    result = pa.Table.from_batches(list(score_batches(iter(table.to_batches()), package, RUN)))
    assert EVENT_TIMESTAMP in result.column_names
    assert result.column("quarantine_reason").null_count == 3
