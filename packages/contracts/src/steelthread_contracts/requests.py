"""The API models of a use case, derived from its declaration (`steelthread_contracts.usecase`).

A fork never copies a field list: `PredictionRequest` is the request id, the entity key and the use case's
request fields (a `number` is a strict float within its bounds, an `integer` a whole number, a `choice` of
strings a `StrEnum` named `enum_name`, of integers a literal set) and `explain`; `PredictionResponse` names
its score `texts.score_field`, within `score_range`; `FeedbackRecord`'s label follows the task (0/1, a finite
number, one of `classes`). For the credit example the derived models give `docs/api/openapi.json` byte for
byte (tests/serving/test_serving_openapi.py), so the derivation changed nothing a consumer sees.

Built once per use case, on first use (`api_models()`): importing the contracts loads no use case, so a
package that only reads model packages never needs one installed. Each process runs one use case, so
`steelthread_contracts.PredictionRequest` (and the other names) are the active use case's models.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, BeforeValidator, Field, create_model

from steelthread_contracts.api import (
    DERIVED,
    MAX_BATCH_SIZE,
    BatchPredictionRequestBase,
    BatchPredictionResponseBase,
    Decision,
    DecisionSource,
    Explanation,
    FeedbackRecordBase,
    ObservedAt,
    PredictionRequestBase,
    PredictionResponseBase,
    RequestId,
    ServingMode,
    _whole_number,
)
from steelthread_contracts.degraded import degraded_reasons
from steelthread_contracts.package import Task
from steelthread_contracts.usecase import RequestField, UseCase, UseCaseError, active_name, load

DEFAULT_SCORE_FIELD = "score"
"""The answer's score name when the use case names none."""


@dataclass(frozen=True)
class ApiModels:
    """One use case's API models and the names the server reads from them."""

    use_case: UseCase
    request: type[PredictionRequestBase]
    response: type[PredictionResponseBase]
    batch_request: type[BatchPredictionRequestBase]
    batch_response: type[BatchPredictionResponseBase]
    feedback: type[FeedbackRecordBase]
    enums: dict[str, type[StrEnum]]
    """The request's enums by name (the credit example's `LoanPurpose`)."""
    score_field: str

    @property
    def join_key(self) -> str:
        return self.use_case.entity.join_key

    def named(self, name: str) -> type[BaseModel] | type[StrEnum]:
        """A model by its contract name (`PredictionRequest`, ...) or an enum by its name."""
        models: dict[str, type[BaseModel]] = {
            "PredictionRequest": self.request,
            "PredictionResponse": self.response,
            "BatchPredictionRequest": self.batch_request,
            "BatchPredictionResponse": self.batch_response,
            "FeedbackRecord": self.feedback,
        }
        if name in models:
            return models[name]
        return self.enums[name]


def _fields(**values: object) -> dict[str, Any]:
    """`Field` keyword arguments without the unset ones (an empty description stays out of the schema)."""
    return {k: v for k, v in values.items() if v is not None and v != ""}


def _member_name(value: object) -> str:
    name = re.sub(r"\W", "_", str(value)).upper()
    return name if name.isidentifier() else f"V_{name}"


def _enum(field: RequestField) -> type[StrEnum]:
    name = field.enum_name or "".join(part.title() for part in field.name.split("_"))
    members = [(_member_name(c), str(c)) for c in field.choices]
    if len({m for m, _ in members}) != len(members):
        raise UseCaseError(f"request field {field.name!r}: choices {field.choices} collide as enum members")
    return cast("type[StrEnum]", StrEnum(name, members, module=__name__))


def _request_field(field: RequestField, enums: dict[str, type[StrEnum]]) -> tuple[Any, Any]:
    """The annotation and `Field` of one declared request field (always required)."""
    text = _fields(description=field.description, examples=None if field.example is None else [field.example])
    bounds = _fields(ge=field.ge, gt=field.gt, le=field.le, lt=field.lt)
    if field.kind == "number":
        return float, Field(strict=True, allow_inf_nan=False, **bounds, **text)
    if field.kind == "integer":
        return Annotated[int, BeforeValidator(_whole_number)], Field(**bounds, **text)
    if not field.choices:
        raise UseCaseError(f"request field {field.name!r} is a choice without choices")
    if all(isinstance(c, str) for c in field.choices):
        enum = _enum(field)
        if enum.__name__ in enums or enum.__name__ in DERIVED or enum.__name__ == "DegradedReason":
            raise UseCaseError(f"request field {field.name!r}: enum name {enum.__name__!r} is taken")
        enums[enum.__name__] = enum
        return enum, Field(**text)
    if all(isinstance(c, int) and not isinstance(c, bool) for c in field.choices):
        return cast(Any, Literal)[tuple(field.choices)], Field(**text)
    raise UseCaseError(f"request field {field.name!r}: choices must be all strings or all integers")


def _degraded_reason(use_case: UseCase) -> type[StrEnum]:
    """The closed set of reasons serving gives for this use case (`steelthread_contracts.degraded`), as an
    enum, so the API document lists them."""
    reasons = sorted(degraded_reasons(use_case.entity.name))
    return cast(
        "type[StrEnum]", StrEnum("DegradedReason", [(_member_name(r), r) for r in reasons], module=__name__)
    )


def _bounded(low: float, high: float, description: str) -> Any:
    """A finite float within the finite ends of `score_range` (an infinite end states no bound)."""
    return Annotated[
        float,
        Field(
            allow_inf_nan=False,
            **_fields(
                ge=low if math.isfinite(low) else None,
                le=high if math.isfinite(high) else None,
                description=description,
            ),
        ),
    ]


def _binary_message(label_description: str) -> str:
    """`must be 0 (repaid) or 1 (defaulted)` from the credit example's `1 = defaulted, 0 = repaid.`: what
    each value means, when the use case's label description says so."""
    meaning = dict(re.findall(r"\b([01])\s*=\s*([^,;.]+)", label_description))
    if set(meaning) == {"0", "1"}:
        return f"must be 0 ({meaning['0'].strip()}) or 1 ({meaning['1'].strip()})"
    return "must be 0 or 1"


def _label(use_case: UseCase) -> Any:
    """The observed label's annotation for the task."""
    if use_case.task is Task.BINARY:
        message = _binary_message(use_case.texts.label_description)

        def binary(value: object) -> object:
            if isinstance(value, bool) or value not in (0, 1):
                raise ValueError(message)
            return value

        return Annotated[Literal[0, 1], BeforeValidator(binary)]
    if use_case.task is Task.REGRESSION:
        return Annotated[float, Field(strict=True, allow_inf_nan=False)]
    if not use_case.classes:
        raise UseCaseError(f"use case {use_case.name!r} is multiclass but declares no classes")
    return cast(Any, Literal)[use_case.classes]


def build(use_case: UseCase) -> ApiModels:
    """The API models of `use_case`, field by field in the v1 order (the schema's `required` lists follow
    it, so the order is part of the published document)."""
    texts = use_case.texts
    entity = use_case.entity
    reserved = {"request_id", "explain", entity.join_key}
    clash = reserved & set(use_case.request_names)
    if clash or entity.join_key in {"request_id", "explain"}:
        raise UseCaseError(f"use case {use_case.name!r}: request fields reuse reserved names {sorted(clash)}")

    enums: dict[str, type[StrEnum]] = {}
    key = Annotated[
        int,
        Field(ge=1, le=entity.max_key, **_fields(description=entity.description, examples=[entity.example])),
        BeforeValidator(_whole_number),
    ]
    request_fields: dict[str, Any] = {
        "request_id": (
            RequestId | None,
            Field(default=None, description="Optional idempotency/correlation id; generated when absent."),
        ),
        entity.join_key: (key, ...),
        **{f.name: _request_field(f, enums) for f in use_case.request_fields},
        "explain": (
            bool,
            Field(
                default=False,
                strict=True,
                description="Return the feature values the model saw, by name, and why it decided "
                "(`explanation`).",
            ),
        ),
    }
    request = create_model(
        "PredictionRequest",
        __base__=PredictionRequestBase,
        __doc__=texts.request_description,
        __module__=__name__,
        **request_fields,
    )

    score_field = texts.score_field or DEFAULT_SCORE_FIELD
    low, high = use_case.score_range
    response_fields: dict[str, Any] = {
        "request_id": (RequestId, ...),
        score_field: (_bounded(low, high, texts.score_description), ...),
        "decision": (Decision, ...),
        "decided_by": (
            DecisionSource,
            Field(
                description=(
                    "Which rule decided: the model package's thresholds, the use case's cuts, or the "
                    "use case's fail-closed fallback when no model could answer."
                ),
            ),
        ),
        "model_name": (str, ...),
        "model_version": (str, ...),
        "mode": (ServingMode, ...),
        "degraded": (
            bool,
            Field(
                description="True when the answer came from the fallback because the model could not answer."
            ),
        ),
        "degraded_reason": (
            _degraded_reason(use_case) | None,
            Field(default=None, description="Why the fallback answered; null when `degraded` is false."),
        ),
        "features": (
            dict[str, float | None] | None,
            Field(default=None, description="Feature values the model saw; only with `explain=true`."),
        ),
        "explanation": (
            Explanation | None,
            Field(
                default=None,
                description="Why the model decided; only with `explain=true` when the answering model's "
                "package ships its booster (null for the fallback's answers).",
            ),
        ),
    }
    if len(response_fields) != 11:  # the score replaced one of the others
        raise UseCaseError(f"use case {use_case.name!r}: score field {score_field!r} is a reserved name")
    response = create_model(
        "PredictionResponse", __base__=PredictionResponseBase, __module__=__name__, **response_fields
    )
    batch_request = create_model(
        "BatchPredictionRequest",
        __base__=BatchPredictionRequestBase,
        __module__=__name__,
        items=(list[request], Field(min_length=1, max_length=MAX_BATCH_SIZE)),
    )
    batch_response = create_model(
        "BatchPredictionResponse",
        __base__=BatchPredictionResponseBase,
        __module__=__name__,
        items=(list[response], ...),
    )
    feedback = create_model(
        "FeedbackRecord",
        __base__=FeedbackRecordBase,
        __doc__=texts.feedback_description,
        __module__=__name__,
        request_id=(RequestId, ...),
        observed_label=(_label(use_case), Field(**_fields(description=texts.label_description))),
        observed_at=(ObservedAt, Field(description="When the outcome was observed (with timezone).")),
    )
    return ApiModels(
        use_case=use_case,
        request=request,
        response=response,
        batch_request=batch_request,
        batch_response=batch_response,
        feedback=feedback,
        enums=enums,
        score_field=score_field,
    )


@cache
def _models_of(name: str) -> ApiModels:
    return build(load(name))


def api_models(name: str | None = None) -> ApiModels:
    """The models of the use case `name` (default: the active one, `STEELTHREAD_USECASE`), built once."""
    return _models_of(name or active_name())


def derived(module: str, name: str) -> Any:
    """A module `__getattr__`'s answer: a derived model or enum of the active use case by its name.

    Any other name is an `AttributeError`; a derived model's name raises the use case's error when it
    cannot load.
    """
    missing = AttributeError(f"module {module!r} has no attribute {name!r}")
    if name in DERIVED:
        return api_models().named(name)
    try:
        return api_models().enums[name]
    except (KeyError, UseCaseError):
        raise missing from None
