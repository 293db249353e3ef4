"""Contract tests: every endpoint, every error shape, over real HTTP."""

from __future__ import annotations

import hashlib
import json

import pytest

from helpers.serving import API_KEY, APPLICATION, OTHER_KEY, Live, read_log
from helpers.usecase import JOIN_KEY, SCORE_FIELD, USE_CASE, choice_field, number_field, out_of_range
from steelthread_contracts import (
    MAX_BATCH_SIZE,
    BatchPredictionResponse,
    ErrorBody,
    ModelInfo,
    PredictionResponse,
)


def test_prediction_answers_with_the_skeleton(live: Live) -> None:
    with live.client() as c:
        r = c.post("/v1/predictions", json=APPLICATION | {"request_id": "abc-1"})
    assert r.status_code == 200
    body = PredictionResponse.model_validate(r.json())
    assert body.request_id == "abc-1"
    assert getattr(body, SCORE_FIELD) == live.settings.skeleton_score
    # the skeleton cannot act on its constant: the use case's decision policy fails closed
    assert body.decision == USE_CASE.policy.fallback
    assert body.decided_by == "fallback"
    assert (body.model_name, body.model_version, body.mode) == ("skeleton", "0", "skeleton")
    assert body.degraded is False
    assert body.features is None


def test_request_id_is_generated_when_absent_and_explain_returns_features(live: Live) -> None:
    with live.client() as c:
        a = c.post("/v1/predictions", json=APPLICATION | {"explain": True}).json()
        b = c.post("/v1/predictions", json=APPLICATION).json()
    assert a["request_id"] != b["request_id"]
    assert a["request_id"].startswith("req-")
    assert a["features"] == {}  # the skeleton sees no features


def test_batch_answers_every_item_in_order(live: Live) -> None:
    items = [APPLICATION | {"request_id": f"b-{i}", JOIN_KEY: i + 1} for i in range(5)]
    with live.client() as c:
        r = c.post("/v1/predictions/batch", json={"items": items})
    assert r.status_code == 200
    body = BatchPredictionResponse.model_validate(r.json())
    assert [i.request_id for i in body.items] == [f"b-{i}" for i in range(5)]
    assert len(read_log(live.settings.prediction_log_dir)) == 5


def test_batch_size_is_capped(live: Live) -> None:
    items = [APPLICATION] * (MAX_BATCH_SIZE + 1)
    with live.client() as c:
        r = c.post("/v1/predictions/batch", json={"items": items})
    assert r.status_code == 422
    assert r.json()["field"] == "items"


def test_feedback_is_accepted_and_stored(live: Live) -> None:
    record = {"request_id": "abc-1", "observed_label": 1, "observed_at": "2026-11-01T10:00:00Z"}
    with live.client() as c:
        r = c.post("/v1/feedback", json=record)
    assert r.status_code == 202
    assert r.json() == {"request_id": "abc-1", "accepted": True}
    files = list(live.settings.feedback_dir.glob("feedback-*.jsonl"))
    lines = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    owner = "key-" + hashlib.sha256(API_KEY.encode()).hexdigest()[:8]  # the key's owner, never the key
    assert lines == [
        {"request_id": "abc-1", "observed_label": 1, "observed_at": "2026-11-01T10:00:00Z", "client": owner}
    ]


def test_model_endpoint_says_what_serves_and_why(live: Live) -> None:
    with live.client() as c:
        r = c.get("/v1/model")
    info = ModelInfo.model_validate(r.json())
    assert info.mode == "skeleton"
    assert info.champion.name == "skeleton"
    assert "skeleton" in info.reason


def test_health_readiness_and_metrics_need_no_key(live: Live) -> None:
    with live.client(key=None) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/readyz").json() == {"status": "ready"}
        c.post("/v1/predictions", json=APPLICATION)  # 401, counted
        with live.client() as authed:
            authed.post("/v1/predictions", json=APPLICATION)
        text = c.get("/metrics").text
    assert 'steelthread_http_requests_total{method="POST",route="/v1/predictions",status="401"} 1.0' in text
    fallback = USE_CASE.policy.fallback.value
    assert f'steelthread_predictions_total{{decision="{fallback}",mode="skeleton"}} 1.0' in text
    assert 'steelthread_serving_mode{mode="skeleton"} 1.0' in text
    assert 'steelthread_model_info{name="skeleton",role="fallback",version="0"} 1.0' in text
    assert "steelthread_prediction_latency_seconds_bucket" in text


@pytest.mark.parametrize("key", [None, "wrong-key-0123456789abcdef", API_KEY[:-1]])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/predictions"),
        ("POST", "/v1/predictions/batch"),
        ("POST", "/v1/feedback"),
        ("GET", "/v1/model"),
    ],
)
def test_every_v1_route_requires_a_valid_key(live: Live, key: str | None, method: str, path: str) -> None:
    with live.client(key=key) as c:
        r = c.request(method, path, json=APPLICATION)
    assert r.status_code == 401
    body = ErrorBody.model_validate(r.json())
    assert body.code == "unauthorized"
    assert body.field == "X-API-Key"


def test_any_configured_key_is_accepted(live: Live) -> None:
    with live.client(key=OTHER_KEY) as c:
        assert c.post("/v1/predictions", json=APPLICATION).status_code == 200


def _invalid_changes() -> list[tuple[dict[str, object], str]]:
    """One invalid value per declared rule of the active use case: each bounded number below and above
    its bounds, a value outside each closed set, a wrong type, a bad entity key, an unknown field."""
    changes: list[tuple[dict[str, object], str]] = []
    for f in USE_CASE.request_fields:
        if f.kind == "choice":
            changes.append(({f.name: "not-a-declared-value"}, f.name))
            continue
        changes.append(({f.name: "abc"}, f.name))
        if any(b is not None for b in (f.ge, f.gt, f.le, f.lt)):
            changes.append(({f.name: out_of_range(f)}, f.name))
        lower = f.gt if f.gt is not None else None
        if lower is not None:
            changes.append(({f.name: lower}, f.name))  # the excluded bound itself
        if f.kind == "integer":
            changes.append(({f.name: 1.5}, f.name))
    changes += [
        ({JOIN_KEY: 0}, JOIN_KEY),
        ({JOIN_KEY: "abc"}, JOIN_KEY),
        ({"request_id": "has spaces"}, "request_id"),
        ({"surprise": 1}, "surprise"),
    ]
    return changes


@pytest.mark.parametrize(("change", "field"), _invalid_changes())
def test_invalid_fields_get_422_naming_the_field(live: Live, change: dict[str, object], field: str) -> None:
    with live.client() as c:
        r = c.post("/v1/predictions", json=APPLICATION | change)
    assert r.status_code == 422
    body = ErrorBody.model_validate(r.json())
    assert body.code == "validation_error"
    assert body.field == field
    assert field in body.message


def test_missing_field_and_non_finite_numbers_are_rejected(live: Live) -> None:
    required, number = choice_field().name, number_field().name
    incomplete = {k: v for k, v in APPLICATION.items() if k != required}
    with live.client() as c:
        r = c.post("/v1/predictions", json=incomplete)
        nan = c.post(
            "/v1/predictions",
            content=json.dumps(APPLICATION | {number: float("nan")}),
            headers={"content-type": "application/json"},
        )
    assert (r.status_code, r.json()["field"]) == (422, required)
    assert (nan.status_code, nan.json()["field"]) == (422, number)


@pytest.mark.parametrize("content", [b"{not json", b"", b"[]", b'"text"', b"\xff\xfe"])
def test_malformed_bodies_get_422(live: Live, content: bytes) -> None:
    with live.client() as c:
        r = c.post("/v1/predictions", content=content, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert ErrorBody.model_validate(r.json()).code == "validation_error"


INVALID_LABEL: dict[str, object] = {"binary": 2, "regression": "high", "multiclass": "not-a-class"}
"""A label the active task refuses: binary takes 0/1, regression a finite number, multiclass a class."""


def test_feedback_needs_a_timezone_and_a_label_of_the_task(live: Live) -> None:
    with live.client() as c:
        naive = c.post(
            "/v1/feedback",
            json={"request_id": "x", "observed_label": 1, "observed_at": "2026-11-01T10:00:00"},
        )
        label = c.post(
            "/v1/feedback",
            json={
                "request_id": "x",
                "observed_label": INVALID_LABEL[USE_CASE.task.value],
                "observed_at": "2026-11-01T10:00:00Z",
            },
        )
    assert (naive.status_code, naive.json()["field"]) == (422, "observed_at")
    assert (label.status_code, label.json()["field"]) == (422, "observed_label")


@pytest.mark.parametrize("number", ["1733000000000", 1733000000000, "1733000000.5", "2026"])
def test_feedback_time_is_iso_8601_text_only(live: Live, number: object) -> None:
    """A number, or a number in a string, is ambiguous (seconds? milliseconds?): refused."""
    with live.client() as c:
        r = c.post("/v1/feedback", json={"request_id": "x", "observed_label": 1, "observed_at": number})
    assert (r.status_code, r.json()["field"]) == (422, "observed_at")


def test_body_over_the_cap_gets_413(live: Live) -> None:
    big = {"items": [APPLICATION | {"request_id": "x" * 60}] * 3000}
    with live.client() as c:
        r = c.post("/v1/predictions/batch", json=big)
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"


def test_chunked_body_over_the_cap_gets_413(live: Live) -> None:
    def chunks():  # no content-length: the limit must hold while streaming
        for _ in range(100):
            yield b" " * 4096

    with live.client() as c:
        r = c.post("/v1/predictions", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_unknown_route_and_wrong_method_use_the_error_body(live: Live) -> None:
    with live.client() as c:
        missing = c.get("/v1/nothing-here")
        wrong = c.get("/v1/predictions")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")


def test_errors_never_leak_a_traceback(live: Live) -> None:
    with live.client() as c:
        for body in (b"{", b"null", f'{{"{JOIN_KEY}": 1e400}}'.encode()):
            r = c.post("/v1/predictions", content=body, headers={"content-type": "application/json"})
            assert r.status_code < 500
            assert "Traceback" not in r.text
