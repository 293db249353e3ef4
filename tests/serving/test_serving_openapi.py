"""The checked-in OpenAPI document is the app's schema, so every API change is a visible diff."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.usecase import USE_CASE
from steelthread_serving.app import create_app
from steelthread_serving.openapi import document_path, render
from steelthread_serving.settings import ServingSettings

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / document_path(USE_CASE.name)


def test_checked_in_openapi_matches_the_app(settings: ServingSettings) -> None:
    current = render(create_app(settings).openapi())
    assert DOC.read_text() == current, "API changed: run `make openapi` and commit docs/api/openapi.json"


def test_every_v1_operation_declares_its_errors_and_the_key() -> None:
    doc = json.loads(DOC.read_text())
    v1 = {p: ops for p, ops in doc["paths"].items() if p.startswith("/v1/")}
    assert set(v1) == {"/v1/predictions", "/v1/predictions/batch", "/v1/feedback", "/v1/model"}
    for ops in v1.values():
        for op in ops.values():
            assert {"401", "422"} <= set(op["responses"])
            assert op["security"] == [{"APIKeyHeader": []}]
