"""The credit example's API models, whatever use case the process runs: the credit declaration's own
constraints (positive loan amounts, the offered terms, the loan purposes, a non-negative income, an integer
customer key) and its label's wording, derived with `api_models("credit")` without activating it.
(pydantic's `ValidationError` is a `ValueError`: the credit package does not declare pydantic itself.)

The rules themselves (how a declared field becomes a model field, per task) are tested use-case neutrally
in packages/contracts/tests/test_contracts_models.py; this is what a credit client relies on.
"""

from __future__ import annotations

import math

import pytest

from steelthread_contracts.requests import api_models
from steelthread_usecase_credit import USE_CASE

MODELS = api_models(USE_CASE.name)
VALID = {
    "customer_id": 7,
    "loan_amount": 5000.0,
    "term_months": 24,
    "purpose": "car",
    "declared_income": 30000.0,
}


def test_valid_request_round_trips_through_json() -> None:
    request = MODELS.request.model_validate(VALID)
    assert MODELS.request.model_validate_json(request.model_dump_json()) == request
    assert MODELS.join_key == "customer_id"
    assert MODELS.score_field == "probability_of_default"


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
    with pytest.raises(ValueError, match=rf"PredictionRequest\n{field}\n"):
        MODELS.request.model_validate(VALID | {field: value})


def test_whole_float_customer_id_is_an_integer() -> None:
    assert MODELS.request.model_validate(VALID | {"customer_id": 7.0}).model_dump()["customer_id"] == 7


def test_zero_income_is_allowed() -> None:
    assert MODELS.request.model_validate(VALID | {"declared_income": 0}).model_dump()["declared_income"] == 0


def test_the_purpose_is_the_loan_purpose_enum_a_client_imports() -> None:
    """The enum a credit client names: `from steelthread_contracts import LoanPurpose` in a credit process,
    `credit_api().enums["LoanPurpose"]` in the consumer example."""
    purpose = MODELS.enums["LoanPurpose"]
    assert "car" in {p.value for p in purpose}
    assert MODELS.request.model_validate(VALID).model_dump()["purpose"] is purpose("car")


@pytest.mark.parametrize("label", [True, 2, "1"])
def test_feedback_label_is_exactly_0_or_1(label: object) -> None:
    with pytest.raises(ValueError, match=r"must be 0 \(repaid\) or 1 \(defaulted\)"):
        MODELS.feedback.model_validate(
            {"request_id": "r1", "observed_label": label, "observed_at": "2026-01-01T00:00:00Z"}
        )
    record = MODELS.feedback.model_validate(
        {"request_id": "r1", "observed_label": 1, "observed_at": "2026-01-01T00:00:00Z"}
    )
    assert record.observed_label == 1
