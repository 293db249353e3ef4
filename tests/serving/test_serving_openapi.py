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


def test_operation_ids_are_the_endpoints_names_and_every_status_is_declared() -> None:
    doc = json.loads(DOC.read_text())
    ids = {p: {m: op["operationId"] for m, op in ops.items()} for p, ops in doc["paths"].items()}
    assert ids["/v1/predictions"] == {"post": "predict"}
    assert ids["/v1/predictions/batch"] == {"post": "predict_batch"}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            declared = set(op["responses"])
            assert "500" in declared, (path, method)
            if path.startswith("/v1/"):
                assert {"401", "403", "413", "422", "429"} <= declared, (path, method)
                assert op["x-required-scope"] in {"predict", "explain", "feedback", "admin"}
            if method == "post":
                assert {"408", "415"} <= declared, (path, method)
    for path in ("/v1/predictions", "/v1/predictions/batch"):
        assert "409" in doc["paths"][path]["post"]["responses"]


def test_answers_allow_additions_and_mark_every_field_required() -> None:
    schemas = json.loads(DOC.read_text())["components"]["schemas"]
    for name in (
        "PredictionResponse",
        "BatchPredictionResponse",
        "ModelInfo",
        "ErrorBody",
        "FeedbackAccepted",
    ):
        assert "additionalProperties" not in schemas[name], name
        assert set(schemas[name]["required"]) == set(schemas[name]["properties"]), name
    for name in ("PredictionRequest", "BatchPredictionRequest", "FeedbackRecord"):  # strict server
        assert schemas[name]["additionalProperties"] is False, name
    reason = schemas["PredictionResponse"]["properties"]["degraded_reason"]["anyOf"][0]
    assert reason == {"$ref": "#/components/schemas/DegradedReason"}
    assert f"unknown_{USE_CASE.entity.name}" in schemas["DegradedReason"]["enum"]
