"""Domain constraints of the shared contracts, and the API models derived from a use case's declaration
(steelthread_contracts.requests): the request's fields and types, the answer's score name and range, the
feedback label per task."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from steelthread_contracts import (
    Decision,
    FeedbackRecord,
    PredictionLogRecord,
    PredictionRequest,
    ServingMode,
)
from steelthread_contracts.log import LEGACY_ENTITY_FIELD, PREDICTION_LOG_SCHEMA_VERSION

VALID = {
    "customer_id": 7,
    "loan_amount": 5000.0,
    "term_months": 24,
    "purpose": "car",
    "declared_income": 30000.0,
}


def test_valid_request_round_trips_through_json() -> None:
    request = PredictionRequest.model_validate(VALID)
    assert PredictionRequest.model_validate_json(request.model_dump_json()) == request


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("loan_amount", -1.0),
        ("loan_amount", math.inf),
        ("loan_amount", math.nan),
        ("loan_amount", "5000"),
        ("declared_income", -0.01),
        ("term_months", 13),
        ("purpose", "yacht"),
        ("customer_id", 1.5),
        ("customer_id", True),
        ("customer_id", "7"),
    ],
)
def test_domain_constraints_reject(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as err:
        PredictionRequest.model_validate(VALID | {field: value})
    assert err.value.errors()[0]["loc"][0] == field


def test_whole_float_customer_id_is_an_integer() -> None:
    assert PredictionRequest.model_validate(VALID | {"customer_id": 7.0}).customer_id == 7


def test_zero_income_is_allowed() -> None:
    assert PredictionRequest.model_validate(VALID | {"declared_income": 0}).declared_income == 0


@pytest.mark.parametrize("label", [True, 2, "1"])
def test_feedback_label_is_exactly_0_or_1(label: object) -> None:
    with pytest.raises(ValidationError, match=r"must be 0 \(repaid\) or 1 \(defaulted\)"):
        FeedbackRecord.model_validate(
            {"request_id": "r1", "observed_label": label, "observed_at": "2026-01-01T00:00:00Z"}
        )


@pytest.mark.parametrize("when", [1700000000, "2026-01-01T00:00:00"])
def test_feedback_time_needs_iso_text_with_timezone(when: object) -> None:
    with pytest.raises(ValidationError):
        FeedbackRecord.model_validate({"request_id": "r1", "observed_label": 1, "observed_at": when})


def test_log_record_carries_its_schema_version() -> None:
    record = PredictionLogRecord(
        logged_at=datetime.now(UTC),
        request_id="r1",
        entity_key=1,
        model_name="skeleton",
        model_version="0",
        mode=ServingMode.SKELETON,
        request={"loan_amount": 1.0},
        score=0.1,
        decision=Decision.APPROVE,
        latency_ms=0.5,
    )
    assert record.model_dump()["schema_version"] == PREDICTION_LOG_SCHEMA_VERSION == 2


def test_a_schema_1_record_reads_with_its_entity_key_as_entity_key() -> None:
    """Schema 1 named the entity key after the credit example; readers must still load such lines."""
    line = {
        "schema_version": 1,
        "logged_at": "2026-11-01T00:00:00Z",
        "request_id": "r1",
        LEGACY_ENTITY_FIELD[1]: 42,
        "model_name": "m",
        "model_version": "1",
        "mode": "live",
        "request": {},
        "score": 0.3,
        "decision": "approve",
        "latency_ms": 1.0,
    }
    record = PredictionLogRecord.model_validate(line)
    assert (record.schema_version, record.entity_key) == (1, 42)
    with pytest.raises(ValidationError, match="entity_key"):
        PredictionLogRecord.model_validate({**line, "schema_version": 2})
