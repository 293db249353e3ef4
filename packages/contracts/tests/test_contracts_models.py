"""Domain constraints of the shared contracts, and the API models derived from a use case's declaration
(steelthread_contracts.requests): the request's fields and types, the answer's score name and range, the
feedback label per task.

Use-case neutral: the request probes come from the active use case's declaration (`STEELTHREAD_USECASE`),
and the label rule of each task is checked on the active declaration with only its task changed, derived
with `requests.build` without activating it. The credit example's own constraints (its loan amounts, its
terms, its label's wording) are tested with the credit example (usecases/credit/tests).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

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
from steelthread_contracts.package import Task
from steelthread_contracts.requests import build
from steelthread_contracts.usecase import RequestField, UseCase, active

USE_CASE = active()
KEY = USE_CASE.join_key


def valid_request(use_case: UseCase) -> dict[str, Any]:
    """The entity's example and every request field's declared example (which its own rule accepts)."""
    body: dict[str, Any] = {use_case.join_key: use_case.entity.example}
    for field in use_case.request_fields:
        assert field.example is not None, field.name
        assert field.accepts(field.example), field.name
        body[field.name] = field.example
    return body


VALID = valid_request(USE_CASE)


def refused_values(field: RequestField) -> list[object]:
    """Values the field's rule refuses: past each stated bound, not finite, the wrong JSON type, a
    fraction for a whole number, a value outside the choices."""
    if field.kind == "choice":
        outsider = "not-a-choice" if isinstance(field.choices[0], str) else max(map(int, field.choices)) + 1
        return [outsider, True]
    values: list[object] = []
    step = 0.5 if field.kind == "number" else 1
    if field.ge is not None:
        values.append(field.ge - step)
    if field.gt is not None:
        values.append(field.gt)
    if field.le is not None:
        values.append(field.le + step)
    if field.lt is not None:
        values.append(field.lt)
    values += [str(field.example), True]
    if field.kind == "number":
        values += [math.inf, math.nan]
    else:
        values.append(float(field.example or 0) + 0.5)
    return values


CASES = [
    *((f.name, v) for f in USE_CASE.request_fields for v in refused_values(f)),
    (KEY, 1.5),
    (KEY, True),
    (KEY, str(USE_CASE.entity.example)),
    (KEY, 0),
]


def test_valid_request_round_trips_through_json() -> None:
    request = PredictionRequest.model_validate(VALID)
    assert PredictionRequest.model_validate_json(request.model_dump_json()) == request
    assert request.model_dump(include={KEY, *USE_CASE.request_names}) == VALID


@pytest.mark.parametrize(("field", "value"), CASES, ids=[f"{name}={value!r}" for name, value in CASES])
def test_domain_constraints_reject(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as err:
        PredictionRequest.model_validate(VALID | {field: value})
    assert err.value.errors()[0]["loc"][0] == field


def accepted_values(field: RequestField) -> list[object]:
    """Values the field's rule accepts: its example, every choice, each inclusive bound."""
    values: list[object] = [field.example, *field.choices]
    for bound in (field.ge, field.le):
        if bound is not None:
            values.append(float(bound) if field.kind == "number" else int(bound))
    return values


@pytest.mark.parametrize("field", USE_CASE.request_fields, ids=USE_CASE.request_names)
def test_the_request_model_applies_the_declared_rule(field: RequestField) -> None:
    """The rule is exactly the declared one (`RequestField.accepts`, which batch applies to files): an
    inclusive bound is itself valid (zero income, say), and every refused value names its field."""
    for value in accepted_values(field):
        assert field.accepts(value), value
        parsed = getattr(PredictionRequest.model_validate(VALID | {field.name: value}), field.name)
        assert parsed == value
    for value in refused_values(field):
        assert not field.accepts(value), value


def test_a_whole_float_entity_key_is_an_integer() -> None:
    request = PredictionRequest.model_validate(VALID | {KEY: float(USE_CASE.entity.example)})
    assert getattr(request, KEY) == USE_CASE.entity.example
    assert isinstance(getattr(request, KEY), int)


def _feedback(model: Any, label: object) -> Any:
    return model.model_validate(
        {"request_id": "r1", "observed_label": label, "observed_at": "2026-01-01T00:00:00Z"}
    )


CLASSES = ("low", "mid", "high")


def as_task(task: Task, **changes: Any) -> UseCase:
    """The active declaration with another task (and what that task needs), never activated."""
    if task is Task.MULTICLASS:
        changes.setdefault("classes", CLASSES)
    return replace(USE_CASE, task=task, **changes)


ACCEPTED: dict[Task, list[object]] = {
    Task.BINARY: [0, 1],
    Task.REGRESSION: [0.0, -3.5, 42.0],
    Task.MULTICLASS: list(CLASSES),
}
REFUSED: dict[Task, list[object]] = {
    Task.BINARY: [True, 2, "1", 0.5, None],
    Task.REGRESSION: [math.inf, math.nan, "12.5", None],
    Task.MULTICLASS: ["other", 0, None],
}


@pytest.mark.parametrize("task", list(Task), ids=[t.value for t in Task])
def test_the_feedback_label_follows_the_task(task: Task) -> None:
    feedback = build(as_task(task)).feedback
    for label in ACCEPTED[task]:
        assert _feedback(feedback, label).observed_label == label
    for label in REFUSED[task]:
        with pytest.raises(ValidationError):
            _feedback(feedback, label)


def test_the_active_feedback_record_applies_the_active_tasks_rule() -> None:
    task = USE_CASE.task
    accepted = list(USE_CASE.classes) if task is Task.MULTICLASS else ACCEPTED[task]
    for label in accepted:
        assert _feedback(FeedbackRecord, label).observed_label == label
    for label in REFUSED[task]:
        with pytest.raises(ValidationError):
            _feedback(FeedbackRecord, label)


def test_a_binary_label_error_says_what_each_value_means_when_the_use_case_does() -> None:
    texts = USE_CASE.texts
    said = build(as_task(Task.BINARY, texts=replace(texts, label_description="1 = late, 0 = on time.")))
    with pytest.raises(ValidationError, match=r"must be 0 \(on time\) or 1 \(late\)"):
        _feedback(said.feedback, 2)
    unsaid = build(as_task(Task.BINARY, texts=replace(texts, label_description="The outcome.")))
    with pytest.raises(ValidationError, match=r"Value error, must be 0 or 1 \["):
        _feedback(unsaid.feedback, 2)


@pytest.mark.parametrize("when", [1700000000, "2026-01-01T00:00:00"])
def test_feedback_time_needs_iso_text_with_timezone(when: object) -> None:
    label = USE_CASE.classes[0] if USE_CASE.task is Task.MULTICLASS else ACCEPTED[USE_CASE.task][-1]
    assert _feedback(FeedbackRecord, label).observed_label == label
    with pytest.raises(ValidationError, match="observed_at"):
        FeedbackRecord.model_validate({"request_id": "r1", "observed_label": label, "observed_at": when})


def test_log_record_carries_its_schema_version() -> None:
    record = PredictionLogRecord(
        logged_at=datetime.now(UTC),
        request_id="r1",
        entity_key=1,
        model_name="skeleton",
        model_version="0",
        mode=ServingMode.SKELETON,
        request={USE_CASE.request_names[0]: 1.0},
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
