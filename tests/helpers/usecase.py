"""The active use case, as tests need it: valid requests, field names and the entity key.

Plumbing tests build their inputs here instead of naming a use case's fields, so the same test passes on
the credit example, the delivery example and the fixture use cases (`STEELTHREAD_USECASE` chooses).
"""

from __future__ import annotations

from typing import Any, Final

from steelthread_contracts.usecase import RequestField, Scalar, UseCase, active

USE_CASE: Final[UseCase] = active()
JOIN_KEY: Final = USE_CASE.entity.join_key
REQUEST_NAMES: Final = USE_CASE.request_names
FEATURE_NAMES: Final = USE_CASE.feature_names
SCORE_FIELD: Final = USE_CASE.texts.score_field


def example_value(field: RequestField) -> Scalar:
    """The field's declared example (every shipped use case declares one per field)."""
    if field.example is None:
        raise AssertionError(f"use case {USE_CASE.name!r}: request field {field.name!r} has no example")
    return field.example


def example_request(entity: int | None = None, **overrides: Any) -> dict[str, Any]:
    """A valid request body for the active use case: its entity example and each field's example."""
    body: dict[str, Any] = {JOIN_KEY: USE_CASE.entity.example if entity is None else entity}
    body |= {f.name: example_value(f) for f in USE_CASE.request_fields}
    return body | overrides


def number_field() -> RequestField:
    """A bounded numeric request field (for tests of bounds and types)."""
    for f in USE_CASE.request_fields:
        if f.kind == "number":
            return f
    raise AssertionError(f"use case {USE_CASE.name!r} declares no number field")


def choice_field() -> RequestField:
    """A request field with a closed set of values."""
    for f in USE_CASE.request_fields:
        if f.kind == "choice":
            return f
    raise AssertionError(f"use case {USE_CASE.name!r} declares no choice field")


def out_of_range(field: RequestField) -> float:
    """A value just outside the field's declared bounds."""
    if field.le is not None:
        return field.le * 2 + 1
    if field.lt is not None:
        return field.lt * 2 + 1
    if field.gt is not None:
        return field.gt - 1
    if field.ge is not None:
        return field.ge - 1
    raise AssertionError(f"request field {field.name!r} is unbounded")


UNKNOWN_ENTITY: Final = f"unknown_{USE_CASE.entity.name}"
"""The degraded reason when the feature store knows no features of the key (`unknown_customer` for credit)."""


def refused_choice(field: RequestField) -> Scalar:
    """A value of the choice field's own type that is not one of its choices."""
    if field.kind != "choice":
        raise AssertionError(f"request field {field.name!r} is not a choice")
    if all(isinstance(c, str) for c in field.choices):
        return "not-a-choice"
    return max(int(c) for c in field.choices) + 1


def refused_value(field: RequestField) -> Scalar:
    """A value of the field's storage type that its rule refuses (outside the choices or the bounds)."""
    if field.kind == "choice":
        return refused_choice(field)
    value = out_of_range(field)
    return int(value) if field.storage == "int64" else value


def sample_values(field: RequestField, n: int, rng: Any) -> list[Scalar]:
    """`n` values the field's rule accepts, spread over its declared range (for tests that need many
    requests, e.g. batch inputs); `rng` is a `numpy.random.Generator`."""
    if field.kind == "choice":
        return [field.choices[i] for i in rng.integers(0, len(field.choices), n)]
    centre = float(example_value(field))
    low = next((b for b in (field.ge, field.gt) if b is not None), centre - abs(centre) - 10.0)
    high = next((b for b in (field.le, field.lt) if b is not None), centre + abs(centre) + 10.0)
    if field.kind == "integer":
        whole = rng.integers(int(low) + 1 if field.ge is None else int(low), int(high) + 1, n)
        values: list[Scalar] = [int(v) if field.storage == "int64" else float(v) for v in whole]
    else:
        values = [float(v) for v in rng.uniform(low, high, n)]
    refused = [v for v in values if not field.accepts(v)]
    if refused:  # an open bound hit exactly (uniform's low end): move those inside
        values = [v if field.accepts(v) else centre for v in values]
    return values
