"""HTTP API contract (version 1).

Adding an optional field is a compatible change; removing, renaming or tightening a field is a breaking
change and needs a new path version (`/v2`). `docs/api/openapi.json` is diffed in CI to make that visible.

The models that carry the use case's fields (`PredictionRequest`, `PredictionResponse`, their batch forms and
`FeedbackRecord`) are derived from the active use case by `steelthread_contracts.requests`, on first use;
this module holds what every use case shares (errors, modes, decisions, model descriptions) and, for type
checkers, the fields every use case's derived models have (`*Base`).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

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


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")


def _iso_timestamp(value: object) -> object:
    """Only ISO 8601 text (or a datetime): a bare number is ambiguous (seconds? milliseconds?), and so is
    a number in a string (`"1733000000000"`), which pydantic would read as a Unix time."""
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("must be an ISO 8601 timestamp with timezone, e.g. 2026-11-01T10:00:00Z")


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
ObservedAt = Annotated[AwareDatetime, BeforeValidator(_iso_timestamp)]


class _Strict(BaseModel):
    """What a client sends: unknown fields are rejected and scalar fields are strict (`0` is no bool, `"5"`
    no amount), so a misspelt or mistyped field never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Answer(BaseModel):
    """What the server answers: a reader ignores fields it does not know, so adding a field to an answer
    stays a compatible change (docs/api-contract.md) for clients built on these models, and the published
    schema does not forbid additional properties. Every field is always present in an answer (null when
    empty), so the published schema marks every field required."""

    model_config = ConfigDict(extra="ignore", frozen=True, json_schema_serialization_defaults_required=True)


class Decision(StrEnum):
    APPROVE = "approve"
    REVIEW = "review"
    DECLINE = "decline"


class DecisionSource(StrEnum):
    """Which rule of the decision policy produced an answer's decision."""

    PACKAGE = "package"
    """The answering model package's own thresholds (a binary package states them)."""
    USE_CASE = "use_case"
    """The use case's cuts, for a task whose packages state no thresholds (regression, multiclass)."""
    FALLBACK = "fallback"
    """No model could answer (skeleton, kill switch, degraded): the use case's fail-closed decision."""


class ServingMode(StrEnum):
    SKELETON = "skeleton"
    SHADOW = "shadow"
    CANARY = "canary"
    LIVE = "live"


class ErrorCode(StrEnum):
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    VALIDATION_ERROR = "validation_error"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    CONFLICT = "conflict"
    REQUEST_TIMEOUT = "request_timeout"
    RATE_LIMITED = "rate_limited"
    NOT_READY = "not_ready"
    INTERNAL_ERROR = "internal_error"


class ReasonCode(_Answer):
    """One reason for an adverse decision, as the use case words it (`UseCase.reasons`)."""

    code: str = Field(description="Stable code of the reason (the use case declares it).")
    text: str = Field(description="The factor the model scored, in words a notice can state.")
    contribution: float = Field(
        description="How far this factor's features together moved the score towards the adverse decision, "
        "in the units of `explanation.scale`."
    )
    features: list[str] = Field(description="The model features this reason covers.")


class Explanation(_Answer):
    """Why the model answered what it did: each feature's contribution to the answering model's raw output
    (TreeSHAP, computed by LightGBM itself from the booster the package ships), and the reason codes of an
    adverse decision."""

    scale: str = Field(
        description="Units of the contributions: `log_odds` (binary: the score is sigmoid(margin)) or "
        "`score` (regression: the margin is the predicted value itself)."
    )
    base_value: float = Field(description="The model's expected raw output over its training data.")
    margin: float = Field(description="base_value plus every contribution: the model's raw output.")
    contributions: dict[str, float] = Field(description="Each model feature's contribution, by name.")
    reasons: list[ReasonCode] = Field(
        description="At most four reasons, largest first, when the decision is adverse (review or decline "
        "by the model): only factors that pushed towards it. Empty for an approval."
    )


class PredictionRequestBase(_Strict):
    """What every use case's prediction request has. The model itself (`PredictionRequest`: these fields,
    the entity key and the use case's request fields) is derived by `steelthread_contracts.requests`; the
    fields are declared here for type checkers only, so the derived model keeps the v1 field order."""

    if TYPE_CHECKING:
        request_id: str | None = None
        explain: bool = False


class PredictionResponseBase(_Answer):
    """What every use case's answer has, besides the score (named by the use case's `texts.score_field`)."""

    if TYPE_CHECKING:
        request_id: str
        decision: Decision
        decided_by: DecisionSource
        model_name: str
        model_version: str
        mode: ServingMode
        degraded: bool
        degraded_reason: str | None = None
        features: dict[str, float | None] | None = None
        explanation: Explanation | None = None


class BatchPredictionRequestBase(_Strict):
    if TYPE_CHECKING:
        items: list[PredictionRequestBase]


class BatchPredictionResponseBase(_Answer):
    if TYPE_CHECKING:
        items: list[PredictionResponseBase]


class FeedbackRecordBase(_Strict):
    """An observed outcome; the label's type follows the use case's task (0/1, a number, a class)."""

    if TYPE_CHECKING:
        request_id: str
        observed_label: int | float | str
        observed_at: datetime


class FeedbackAccepted(_Answer):
    request_id: RequestId
    accepted: bool = True


class ModelInfo(_Answer):
    """What `GET /v1/model` reports: what is serving and why."""

    mode: ServingMode
    canary_fraction: float = Field(ge=0.0, le=1.0)
    champion: ModelDescription
    challenger: ModelDescription | None = None
    stable: ModelDescription | None = Field(
        default=None,
        description=(
            "The previous champion: it answers the entity keys outside the canary fraction in canary mode "
            "and every request in shadow mode. Null when no champion came before this one; those requests "
            "then get the fallback (`reason` says so)."
        ),
    )
    fallback: ModelDescription
    last_refused: RefusedPackage | None = None
    reason: str = Field(description="Why this model answers in this mode, in words.")
    flags_problem: str | None = Field(
        default=None,
        description=(
            "Why the flag file is not in effect as written (unreadable, missing, a flag missing, disabled or "
            "invalid); `mode` and `canary_fraction` are then the last good flags, kept until it is fixed. "
            "Null while the file is in effect."
        ),
    )


class ModelDescription(_Answer):
    name: str
    version: str
    loaded_at: datetime
    feature_names: list[str] = Field(default_factory=list)
    threshold: float | None = None
    execution_provider: str | None = Field(
        default=None, description="onnxruntime provider that actually runs the model."
    )


class RefusedPackage(_Answer):
    path: str
    reason: str
    refused_at: datetime


class ErrorBody(_Answer):
    """Every error answer has this shape; `code` is stable, `message` is for people."""

    code: ErrorCode
    message: str
    field: str | None = Field(default=None, description="Dotted path of the offending field.")
    request_id: str | None = Field(
        default=None,
        description="The request's id (also in the `X-Request-ID` header), to quote when reporting it.",
    )


ModelInfo.model_rebuild()

DERIVED = frozenset(
    {
        "PredictionRequest",
        "PredictionResponse",
        "BatchPredictionRequest",
        "BatchPredictionResponse",
        "FeedbackRecord",
    }
)
"""The models `steelthread_contracts.requests` derives from the active use case."""

if not TYPE_CHECKING:  # type checkers see the `*Base` shapes (steelthread_contracts/__init__.py)

    def __getattr__(name: str) -> Any:
        """`PredictionRequest` and the other derived models (and the use case's enums, e.g. the credit
        example's `LoanPurpose`), for the active use case, built on first use."""
        if name.startswith("__"):  # the import system asks for `__path__`: no use case for that
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from steelthread_contracts.requests import derived

        return derived(__name__, name)
