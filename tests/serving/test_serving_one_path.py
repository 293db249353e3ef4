"""One request path: every `/v1` route checks the key, the content type and the body the same way.

The prediction route used to be answered by a raw-ASGI path ahead of FastAPI that read the last of two
`X-API-Key` headers where the framework read the first, and compared raw key bytes where the framework
decoded them (ADR 0014). Now every route goes through the same route class and middleware, so a repeated
key, a key that is not ASCII, a missing key with a bad body or a body that is not JSON get the same answer
on every route, over real HTTP.
"""

from __future__ import annotations

import json

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from helpers.serving import API_KEY, APPLICATION, Live
from steelthread_contracts import ErrorBody
from steelthread_serving.service import PredictionService
from steelthread_serving.settings import ServingSettings

FEEDBACK = {"request_id": "abc-1", "observed_label": 1, "observed_at": "2026-11-01T10:00:00Z"}
ROUTES: list[tuple[str, str, object]] = [
    ("POST", "/v1/predictions", APPLICATION),
    ("POST", "/v1/predictions/batch", {"items": [APPLICATION]}),
    ("POST", "/v1/feedback", FEEDBACK),
    ("GET", "/v1/model", None),
]
ROUTE_IDS = [f"{method} {path}" for method, path, _ in ROUTES]
WRONG = "wrong-key-0123456789abcdef"
KEY_HEADERS: dict[str, list[tuple[str, bytes]]] = {
    "bad then good": [("X-API-Key", WRONG.encode()), ("X-API-Key", API_KEY.encode())],
    "good then bad": [("X-API-Key", API_KEY.encode()), ("X-API-Key", WRONG.encode())],
    "good twice": [("X-API-Key", API_KEY.encode())] * 2,
    "utf-8 accent": [("X-API-Key", (API_KEY + "é").encode())],
    "latin-1 accent": [("X-API-Key", (API_KEY + "é").encode("latin-1"))],
    "raw high bytes": [("X-API-Key", API_KEY.encode() + b"\xff\xfe")],
}


def _send(
    live: Live, method: str, path: str, body: object, headers: list[tuple[str, bytes]]
) -> httpx.Response:
    content = b"" if body is None else json.dumps(body).encode()
    sent = [("Content-Type", b"application/json"), *headers] if body is not None else headers
    with httpx.Client(base_url=live.url, timeout=5) as c:
        return c.request(method, path, content=content, headers=sent)


@pytest.mark.parametrize("case", list(KEY_HEADERS))
@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=ROUTE_IDS)
def test_repeated_and_non_ascii_keys_get_401_on_every_route(
    live: Live, case: str, method: str, path: str, body: object
) -> None:
    r = _send(live, method, path, body, KEY_HEADERS[case])
    assert r.status_code == 401, r.text
    error = ErrorBody.model_validate(r.json())
    assert (error.code, error.field) == ("unauthorized", "X-API-Key")


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=ROUTE_IDS)
def test_the_one_good_key_is_accepted_on_every_route(
    live: Live, method: str, path: str, body: object
) -> None:
    r = _send(live, method, path, body, [("X-API-Key", API_KEY.encode())])
    assert r.status_code in (200, 202), r.text


@pytest.mark.parametrize("path", [p for m, p, _ in ROUTES if m == "POST"])
@pytest.mark.parametrize("content", [b"{not json", b"", b"\xff\xfe", b"[]"])
def test_a_bad_body_without_a_key_gets_401_not_422(live: Live, path: str, content: bytes) -> None:
    with httpx.Client(base_url=live.url, timeout=5) as c:
        r = c.post(path, content=content, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (401, "unauthorized")


@pytest.mark.parametrize(("method", "path", "body"), [r for r in ROUTES if r[0] == "POST"], ids=ROUTE_IDS[:3])
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_gets_415_on_every_route(
    live: Live, method: str, path: str, body: object, content_type: str | None
) -> None:
    headers = {"X-API-Key": API_KEY} | ({"Content-Type": content_type} if content_type else {})
    with httpx.Client(base_url=live.url, timeout=5) as c:
        r = c.request(method, path, content=json.dumps(body).encode(), headers=headers)
    assert r.status_code == 415
    error = ErrorBody.model_validate(r.json())
    assert (error.code, error.field) == ("unsupported_media_type", "Content-Type")


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/problem+json"])
def test_json_media_types_with_parameters_or_suffixes_are_json(live: Live, content_type: str) -> None:
    with httpx.Client(base_url=live.url, timeout=5) as c:
        r = c.post(
            "/v1/predictions",
            content=json.dumps(APPLICATION).encode(),
            headers={"X-API-Key": API_KEY, "Content-Type": content_type},
        )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "key", ["test-key-0123456789abcdé", "test key 0123456789abcdef", "test-key-0123456789\x00ab"]
)
def test_keys_outside_visible_ascii_are_refused_at_start_up(key: str) -> None:
    with pytest.raises(ValidationError, match="visible ASCII"):
        ServingSettings(api_keys=[key])  # type: ignore[list-item]


def _requests_by_status(url: str, route: str) -> dict[str, float]:
    """`steelthread_http_requests_total` for `POST route`, by status."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return {
        sample.labels["status"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "steelthread_http_requests"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels["route"] == route
    }


def test_every_prediction_answer_is_counted_once_by_status(live: Live) -> None:
    with live.client() as c:
        c.post("/v1/predictions", json=APPLICATION)
        c.post("/v1/predictions", json=APPLICATION | {"surprise": 1})
        c.post("/v1/predictions", content=b"x" * (live.settings.max_body_bytes + 1))
    with live.client(key=None) as c:
        c.post("/v1/predictions", json=APPLICATION)
    assert _requests_by_status(live.url, "/v1/predictions") == {
        "200": 1.0,
        "422": 1.0,
        "413": 1.0,
        "401": 1.0,
    }


def test_an_unexpected_failure_gets_the_apps_500_counted_once(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: PredictionService, *args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug, not a bad request")

    monkeypatch.setattr(PredictionService, "predict", broken)
    with live.client() as c:
        r = c.post("/v1/predictions", json=APPLICATION, headers={"X-Request-ID": "bug-1"})
    assert r.status_code == 500
    assert (r.headers["x-request-id"], r.json()["request_id"]) == ("bug-1", "bug-1")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-type"] == "application/json"
    error = ErrorBody.model_validate(r.json())
    assert error.code == "internal_error"
    assert "a bug" not in r.text
    assert _requests_by_status(live.url, "/v1/predictions") == {"500": 1.0}


def test_every_answer_carries_its_request_id_and_the_security_headers(live: Live) -> None:
    with httpx.Client(base_url=live.url, timeout=5) as c:
        refused = c.post("/v1/predictions", json=APPLICATION, headers={"X-Request-ID": "client-id-1"})
        made_up = c.post("/v1/predictions", json=APPLICATION, headers={"X-Request-ID": "has spaces"})
        too_large = c.post(
            "/v1/predictions",
            content=b" " * (live.settings.max_body_bytes + 1),
            headers={"X-API-Key": API_KEY, "X-Request-ID": "client-id-2"},
        )
        answered = c.post("/v1/predictions", json=APPLICATION, headers={"X-API-Key": API_KEY})
        own_id = c.post(
            "/v1/predictions", json=APPLICATION | {"request_id": "body-id"}, headers={"X-API-Key": API_KEY}
        )
        health = c.get("/healthz")
        asset = c.get("/static/docs/swagger-ui.css")
    assert (refused.headers["x-request-id"], refused.json()["request_id"]) == ("client-id-1", "client-id-1")
    generated = made_up.headers["x-request-id"]
    assert generated.startswith("req-")
    assert made_up.json()["request_id"] == generated  # an invalid id is replaced, never echoed
    assert (too_large.status_code, too_large.json()["request_id"]) == (413, "client-id-2")
    assert answered.headers["x-request-id"] == answered.json()["request_id"]
    assert own_id.headers["x-request-id"] == "body-id"
    for r in (refused, made_up, too_large, answered, own_id, health):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"
    assert asset.status_code == 200
    assert "no-store" not in asset.headers.get("cache-control", "")  # the docs' assets may be cached
