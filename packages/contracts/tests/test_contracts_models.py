"""Domain constraints of the shared contracts, and the API models derived from a use case's declaration
(steelthread_contracts.requests): the request's fields and types, the answer's score name and range, the
feedback label per task."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

import steelthread_contracts
from steelthread_contracts import (
    Decision,
    FeedbackRecord,
    PredictionLogRecord,
    PredictionRequest,
    ServingMode,
)
from steelthread_contracts.package import Task
from steelthread_contracts.requests import api_models, build
from steelthread_contracts.usecase import DEFAULT_USECASE, RequestField, UseCase, UseCaseError, load

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
        customer_id=1,
        model_name="skeleton",
        model_version="0",
        mode=ServingMode.SKELETON,
        request={"loan_amount": 1.0},
        score=0.1,
        decision=Decision.APPROVE,
        latency_ms=0.5,
    )
    assert record.model_dump()["schema_version"] == 1


CREDIT = load(DEFAULT_USECASE)


def _feedback(model: type, label: object) -> object:
    return model.model_validate(
        {"request_id": "r1", "observed_label": label, "observed_at": "2026-01-01T00:00:00Z"}
    )


def test_the_request_is_the_declaration_in_order() -> None:
    models = api_models()
    use_case = models.use_case
    assert list(PredictionRequest.model_fields) == [
        "request_id",
        use_case.entity.join_key,
        *use_case.request_names,
        "explain",
    ]
    assert PredictionRequest is models.request
    assert PredictionRequest.__doc__ == use_case.texts.request_description
    named = {f.enum_name for f in use_case.request_fields if f.enum_name}
    assert named == set(models.enums)
    for name in named:  # the credit example's LoanPurpose, reachable by its name
        assert getattr(steelthread_contracts, name) is models.enums[name]
    with pytest.raises(AttributeError, match="no attribute 'NoSuchModel'"):
        steelthread_contracts.NoSuchModel  # noqa: B018


def test_declared_kinds_become_strict_types() -> None:
    fields = (
        RequestField("weight_kg", "number", gt=0, lt=500, example=70.0, description="Parcel weight."),
        RequestField("items", "integer", ge=1, le=99),
        RequestField("service_level", "choice", choices=("next-day", "2nd class")),
        RequestField("zone", "choice", choices=(1, 2, 3)),
    )
    models = build(replace(CREDIT, request_fields=fields))
    key = CREDIT.entity.join_key
    valid = {key: 1, "weight_kg": 2.5, "items": 3.0, "service_level": "next-day", "zone": 2}
    request = models.request.model_validate(valid)
    assert request.items == 3  # a whole float is an integer
    enum = models.enums["ServiceLevel"]  # no enum_name: named after the field
    assert [m.name for m in enum] == ["NEXT_DAY", "V_2ND_CLASS"]
    for field, bad in [("weight_kg", 0), ("weight_kg", "2.5"), ("items", 3.5), ("items", "3"), ("zone", 4)]:
        with pytest.raises(ValidationError) as err:
            models.request.model_validate(valid | {field: bad})
        assert err.value.errors()[0]["loc"][0] == field
    schema = models.request.model_json_schema()["properties"]["weight_kg"]
    assert (schema["exclusiveMinimum"], schema["exclusiveMaximum"], schema["description"]) == (
        0,
        500,
        "Parcel weight.",
    )


def test_a_regression_use_case_names_its_score_and_takes_a_number_as_label() -> None:
    regression = replace(
        CREDIT,
        task=Task.REGRESSION,
        score_range=(0.0, math.inf),
        texts=replace(CREDIT.texts, score_field="minutes_late", score_description="Predicted delay."),
    )
    models = build(regression)
    schema = models.response.model_json_schema()
    assert "minutes_late" in schema["required"]
    assert "probability_of_default" not in schema["properties"]
    assert schema["properties"]["minutes_late"] == {
        "description": "Predicted delay.",
        "minimum": 0.0,  # an infinite end of the range states no bound
        "title": "Minutes Late",
        "type": "number",
    }
    assert _feedback(models.feedback, 12.5).observed_label == 12.5
    assert _feedback(models.feedback, 7).observed_label == 7
    for bad in ["12.5", True, math.nan, math.inf]:
        with pytest.raises(ValidationError):
            _feedback(models.feedback, bad)
    neutral = build(replace(regression, texts=replace(regression.texts, score_field="")))
    assert "score" in neutral.response.model_fields


def test_a_multiclass_label_is_one_of_the_declared_classes() -> None:
    multiclass = replace(CREDIT, task=Task.MULTICLASS, classes=("on_time", "late", "lost"))
    feedback = build(multiclass).feedback
    assert _feedback(feedback, "late").observed_label == "late"
    for bad in ["early", 1, None]:
        with pytest.raises(ValidationError):
            _feedback(feedback, bad)
    with pytest.raises(UseCaseError, match="multiclass but declares no classes"):
        build(replace(multiclass, classes=()))


@pytest.mark.parametrize(
    "declared",
    [
        replace(CREDIT, request_fields=(RequestField("explain", "number"),)),
        replace(CREDIT, texts=replace(CREDIT.texts, score_field="decision")),
        replace(CREDIT, request_fields=(RequestField("x", "choice", choices=(1, "a")),)),
        replace(CREDIT, request_fields=(RequestField("x", "choice", choices=("a", "A")),)),
    ],
)
def test_declarations_the_api_cannot_carry_are_refused(declared: UseCase) -> None:
    with pytest.raises(UseCaseError):
        build(declared)


def test_importing_the_contracts_loads_no_use_case() -> None:
    """A reader of model packages needs no use case installed; the derived models say which is missing."""
    code = (
        "import sys, steelthread_contracts\n"
        "assert not any(m.startswith('steelthread_usecase') for m in sys.modules)\n"
        "try:\n"
        "    steelthread_contracts.PredictionRequest\n"
        "except LookupError as exc:\n"
        "    print(exc)\n"
    )
    env = {"STEELTHREAD_USECASE": "no-such-case", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "unknown use case 'no-such-case'" in out.stdout
