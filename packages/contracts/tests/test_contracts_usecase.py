"""The use-case registry: the active use case by name, a clear error for an unknown one, declarations
that contradict themselves refused."""

from __future__ import annotations

from dataclasses import replace

import pytest

from steelthread_contracts import usecase
from steelthread_contracts.usecase import RequestField, UseCaseError


def test_the_default_use_case_is_registered_and_consistent() -> None:
    declared = usecase.load(usecase.DEFAULT_USECASE)
    assert declared.name == usecase.DEFAULT_USECASE
    assert usecase.DEFAULT_USECASE in usecase.registered()
    assert len(set(declared.feature_names)) == len(declared.feature_names)
    assert set(declared.on_demand.stored_inputs) <= {c for v in declared.views for c in v.columns}


def test_the_variable_chooses_the_use_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(usecase.USECASE_ENV, "no-such-case")
    with pytest.raises(UseCaseError, match=r"unknown use case 'no-such-case' \(STEELTHREAD_USECASE\)"):
        usecase.active()
    monkeypatch.setenv(usecase.USECASE_ENV, "")
    assert usecase.active_name() == usecase.DEFAULT_USECASE


def test_an_import_path_loads_a_declaration_that_is_not_installed() -> None:
    path = f"steelthread_usecase_{usecase.DEFAULT_USECASE}:USE_CASE"
    assert usecase.load(path) is usecase.load(usecase.DEFAULT_USECASE)
    with pytest.raises(UseCaseError, match="is not a UseCase"):
        usecase.load("steelthread_contracts.usecase:DEFAULT_USECASE")
    with pytest.raises(UseCaseError, match="cannot load"):
        usecase.load("no_such_module:X")


def test_a_declaration_that_contradicts_itself_is_refused() -> None:
    declared = usecase.load(usecase.DEFAULT_USECASE)
    first = declared.request_fields[0]
    with pytest.raises(UseCaseError, match="duplicate request field"):
        replace(declared, request_fields=(first, first))
    clash = RequestField(declared.on_demand.features[0], "number")
    with pytest.raises(UseCaseError, match="reuse request names"):
        replace(declared, request_fields=(*declared.request_fields, clash))
    with pytest.raises(UseCaseError, match="protected attribute is not a stored slice"):
        replace(declared, protected_attribute="shoe_size")


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        (RequestField("x", "number", gt=0, le=10), 10, True),
        (RequestField("x", "number", gt=0, le=10), 0, False),
        (RequestField("x", "number", gt=0, le=10), float("nan"), False),
        (RequestField("x", "number", gt=0, le=10), True, False),
        (RequestField("x", "number", gt=0, le=10), "5", False),
        (RequestField("x", "integer", ge=1), 2.5, False),
        (RequestField("x", "choice", choices=(12, 24)), 24, True),
        (RequestField("x", "choice", choices=(12, 24)), 36, False),
        (RequestField("x", "choice", choices=("a", "b")), "c", False),
    ],
)
def test_a_request_field_accepts_what_its_rule_says(field: RequestField, value: object, ok: bool) -> None:
    assert field.accepts(value) is ok, field.rule()
