"""HTTP API contract (version 1).

Adding an optional field is a compatible change; removing, renaming or tightening a field is a breaking
change and needs a new path version (`/v2`). `docs/api/openapi.json` is diffed in CI to make that visible.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

MAX_BATCH_SIZE = 1000
"""Largest batch `/v1/predictions/batch` accepts; larger jobs belong to the batch app."""


def _whole_number(value: object) -> object:
    """JSON has one number type, so `42.0` is a valid integer there; `"42"`, `true` and `42.5` are not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be a whole number")
        return int(value)
    return value


def _binary_label(value: object) -> object:
    if isinstance(value, bool) or value not in (0, 1):
        raise ValueError("must be 0 (repaid) or 1 (defaulted)")
    return value


def _iso_timestamp(value: object) -> object:
    """Only ISO 8601 text (or a datetime): a bare number is ambiguous (seconds? milliseconds?)."""
    if not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 timestamp with timezone, e.g. 2026-11-01T10:00:00Z")
    return value


CustomerId = Annotated[
    int,
    Field(ge=1, le=2**53, description="Customer key in the feature store.", examples=[1042]),
    BeforeValidator(_whole_number),
]
RequestId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Caller-chosen or server-generated id that ties answer, log and feedback together.",
        examples=["req-7f3a9c"],
    ),
]
Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class _Strict(BaseModel):
    """Unknown fields are rejected and scalar fields are strict (`0` is no bool, `"5"` no amount), so a
    misspelt or mistyped field never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LoanPurpose(StrEnum):
    DEBT_CONSOLIDATION = "debt_consolidation"
    HOME_IMPROVEMENT = "home_improvement"
    CAR = "car"
    BUSINESS = "business"
    EDUCATION = "education"
    MEDICAL = "medical"
    OTHER = "other"


class Decision(StrEnum):
    APPROVE = "approve"
    REVIEW = "review"
    DECLINE = "decline"


class ServingMode(StrEnum):
    SKELETON = "skeleton"
    SHADOW = "shadow"
    CANARY = "canary"
    LIVE = "live"


class ErrorCode(StrEnum):
    UNAUTHORIZED = "unauthorized"
    VALIDATION_ERROR = "validation_error"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    NOT_READY = "not_ready"
    INTERNAL_ERROR = "internal_error"


class PredictionRequest(_Strict):
    """One loan application as the consuming application knows it at decision time."""

    request_id: RequestId | None = Field(
        default=None, description="Optional idempotency/correlation id; generated when absent."
    )
    customer_id: CustomerId
    loan_amount: float = Field(strict=True, gt=0, le=1_000_000, allow_inf_nan=False, examples=[12_000.0])
    term_months: Literal[12, 24, 36, 48, 60] = Field(examples=[36])
    purpose: LoanPurpose = Field(examples=[LoanPurpose.DEBT_CONSOLIDATION])
    declared_income: float = Field(
        strict=True,
        ge=0,
        le=10_000_000,
        allow_inf_nan=False,
        description="Yearly income declared on the application; 0 is allowed (no income).",
        examples=[54_000.0],
    )
    explain: bool = Field(
        default=False, strict=True, description="Return the feature values the model saw, by name."
    )


class PredictionResponse(_Strict):
    request_id: RequestId
    probability_of_default: Probability
    decision: Decision
    model_name: str
    model_version: str
    mode: ServingMode
    degraded: bool = Field(
        description="True when the answer came from the fallback because the model could not answer."
    )
    degraded_reason: str | None = None
    features: dict[str, float | None] | None = Field(
        default=None, description="Feature values the model saw; only with `explain=true`."
    )


class BatchPredictionRequest(_Strict):
    items: list[PredictionRequest] = Field(min_length=1, max_length=MAX_BATCH_SIZE)


class BatchPredictionResponse(_Strict):
    items: list[PredictionResponse]


class FeedbackRecord(_Strict):
    """A label that arrived after the decision (e.g. the loan defaulted or was repaid)."""

    request_id: RequestId
    observed_label: Annotated[Literal[0, 1], BeforeValidator(_binary_label)] = Field(
        description="1 = defaulted, 0 = repaid."
    )
    observed_at: Annotated[AwareDatetime, BeforeValidator(_iso_timestamp)] = Field(
        description="When the outcome was observed (with timezone)."
    )


class FeedbackAccepted(_Strict):
    request_id: RequestId
    accepted: bool = True


class ModelInfo(_Strict):
    """What `GET /v1/model` reports: what is serving and why."""

    mode: ServingMode
    canary_fraction: float = Field(ge=0.0, le=1.0)
    champion: ModelDescription
    challenger: ModelDescription | None = None
    fallback: ModelDescription
    last_refused: RefusedPackage | None = None
    reason: str = Field(description="Why this model answers in this mode, in words.")


class ModelDescription(_Strict):
    name: str
    version: str
    loaded_at: datetime
    feature_names: list[str] = Field(default_factory=list)
    threshold: float | None = None
    execution_provider: str | None = Field(
        default=None, description="onnxruntime provider that actually runs the model."
    )


class RefusedPackage(_Strict):
    path: str
    reason: str
    refused_at: datetime


class ErrorBody(_Strict):
    """Every error answer has this shape; `code` is stable, `message` is for people."""

    code: ErrorCode
    message: str
    field: str | None = Field(default=None, description="Dotted path of the offending field.")
    request_id: str | None = None


ModelInfo.model_rebuild()
