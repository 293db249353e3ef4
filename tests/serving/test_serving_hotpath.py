"""The raw-ASGI hot path for `POST /v1/predictions` answers exactly as the FastAPI route does.

Two real servers on the same settings, one with the hot path and one without, get the same requests;
status codes, bodies, prediction-log records and request metrics must match (generated request ids
aside). Errors are always the FastAPI route's: the hot path passes anything it does not answer on, body
included, and answers an unexpected failure with the app's own 500.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from helpers.packages import make_package, publish
from helpers.serving import API_KEY, APPLICATION, read_log, running, write_flags
from helpers.usecase import JOIN_KEY, number_field, out_of_range
from helpers.world import FeatureWorld
from steelthread_contracts import PredictionLogRecord, PredictionResponse
from steelthread_serving.service import PredictionService
from steelthread_serving.settings import ServingSettings

JSON = {"content-type": "application/json"}
NUMBER = number_field()
"""A bounded number field of the active use case."""
CASES: list[tuple[str, dict[str, str], bytes]] = [
    ("valid", JSON, json.dumps(APPLICATION | {"request_id": "same-1"}).encode()),
    ("explain", JSON, json.dumps(APPLICATION | {"request_id": "same-2", "explain": True}).encode()),
    ("charset", {"content-type": "application/json; charset=utf-8"}, json.dumps(APPLICATION).encode()),
    ("no content type", {}, json.dumps(APPLICATION).encode()),
    ("text/plain", {"content-type": "text/plain"}, json.dumps(APPLICATION).encode()),
    ("bad field", JSON, json.dumps(APPLICATION | {NUMBER.name: out_of_range(NUMBER)}).encode()),
    ("extra field", JSON, json.dumps(APPLICATION | {"surprise": 1}).encode()),
    ("string amount", JSON, json.dumps(APPLICATION | {NUMBER.name: "5"}).encode()),
    ("NaN", JSON, json.dumps(APPLICATION | {NUMBER.name: float("nan")}).encode()),
    ("not json", JSON, b"{not json"),
    ("empty", JSON, b""),
    ("list", JSON, b"[]"),
    ("bad utf-8", JSON, b"\xff\xfe"),
    # Bodies where the hot path's parser (orjson) and FastAPI's (json) could differ: the last duplicate
    # key wins in both; a lone surrogate and a 70-bit integer are refused by orjson, so FastAPI decides.
    ("duplicate key", JSON, json.dumps(APPLICATION)[:-1].encode() + f', "{NUMBER.name}": 4.0}}'.encode()),
    ("lone surrogate", JSON, json.dumps(APPLICATION | {"request_id": "x\ud800"}).encode()),
    ("70-bit integer", JSON, json.dumps(APPLICATION | {JOIN_KEY: 2**70}).encode()),
    # No declared length (the hot path leaves it to the body-limit layer), and one past the limit.
    ("chunked", JSON, json.dumps(APPLICATION | {"request_id": "same-4"}).encode()),
    ("chunked too large", JSON, b" " * (1024 * 1024 + 1)),
    ("too large", JSON, b" " * (1024 * 1024 + 1)),
]


def _ask(
    url: str, key: str | None, name: str, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, object]]:
    auth = {"X-API-Key": key} if key else {}

    def chunks() -> Iterator[bytes]:  # httpx sends an iterator chunked, without a content-length
        yield from (body[i : i + 4096] for i in range(0, len(body), 4096))

    content = chunks() if name.startswith("chunked") else body
    r = httpx.post(f"{url}/v1/predictions", content=content, headers=headers | auth, timeout=10)
    answer = r.json()
    if r.status_code == 200:  # both paths answer the contract, explained features included
        PredictionResponse.model_validate_json(r.content, strict=True)
    if isinstance(answer, dict) and str(answer.get("request_id", "")).startswith("req-"):
        answer["request_id"] = "generated"
    return r.status_code, answer


@pytest.fixture
def live_settings(model_settings: ServingSettings) -> ServingSettings:
    make_package(model_settings.models_dir, "1")
    publish(model_settings.models_dir, "champion", "1")
    write_flags(model_settings.flags_path, "live")
    return model_settings


@pytest.mark.parametrize(
    "key", [API_KEY, None, "wrong-key-0123456789abcdef"], ids=["key", "no-key", "wrong-key"]
)
def test_hot_path_and_fastapi_route_answer_alike(
    live_settings: ServingSettings, tmp_path: Path, world: FeatureWorld, key: str | None
) -> None:
    slow_settings = live_settings.model_copy(update={"prediction_log_dir": tmp_path / "log-fastapi"})
    request = world.requests(1)[0].model_dump(mode="json", exclude_none=True)
    cases = [*CASES, ("known customer", JSON, json.dumps(request | {"request_id": "same-3"}).encode())]
    statuses = {}
    with running(live_settings) as fast, running(slow_settings, hot_path=False) as slow:
        for name, headers, body in cases:
            answer = _ask(fast.url, key, name, headers, body)
            assert answer == _ask(slow.url, key, name, headers, body), name
            statuses[name] = answer[0]
        counted = _prediction_requests(fast.url)
        assert counted == _prediction_requests(slow.url)  # each answer counted once, by status
    assert sum(counted.values()) == len(cases)
    assert statuses["too large"] == statuses["chunked too large"] == 413
    answered = {"valid", "explain", "charset", "known customer", "duplicate key", "chunked"}
    if key == API_KEY:
        assert {name for name, status in statuses.items() if status == 200} == answered
        assert set(statuses.values()) == {200, 413, 422}
    else:  # FastAPI refuses some undecodable bodies before it resolves the key; both paths alike
        assert statuses["valid"] == statuses["known customer"] == 401
        assert set(statuses.values()) <= {401, 413, 422}
    fast_log = read_log(live_settings.prediction_log_dir)
    slow_log = read_log(slow_settings.prediction_log_dir)
    assert len(fast_log) == len(slow_log) == (len(answered) if key == API_KEY else 0)

    def comparable(record: dict[str, object]) -> dict[str, object]:
        generated = str(record["request_id"]).startswith("req-")
        return record | {"logged_at": None, "latency_ms": None} | ({"request_id": None} if generated else {})

    assert [comparable(r) for r in fast_log] == [comparable(r) for r in slow_log]
    for record in fast_log:  # the hot path writes plain dicts: each must still be a contract record
        PredictionLogRecord.model_validate(record)
    if key == API_KEY:
        logged = {r["request_id"]: r for r in fast_log}
        assert logged["same-3"]["model_version"] == "1"
        assert not logged["same-3"]["degraded"]
        assert len(logged["same-3"]["features"]) > 20  # type: ignore[arg-type]


def _prediction_requests(url: str) -> dict[str, float]:
    """`steelthread_http_requests_total` for `POST /v1/predictions`, by status."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return {
        sample.labels["status"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "steelthread_http_requests"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels["route"] == "/v1/predictions"
    }


def test_an_unexpected_failure_gets_the_apps_500_on_both_paths(
    live_settings: ServingSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: PredictionService, request: object) -> None:
        raise RuntimeError("a bug, not a bad request")

    monkeypatch.setattr(PredictionService, "predict", broken)
    slow_settings = live_settings.model_copy(update={"prediction_log_dir": tmp_path / "log-fastapi"})
    body = json.dumps(APPLICATION).encode()
    with running(live_settings) as fast, running(slow_settings, hot_path=False) as slow:
        answers = [
            httpx.post(
                f"{url}/v1/predictions", content=body, headers=JSON | {"X-API-Key": API_KEY}, timeout=10
            )
            for url in (fast.url, slow.url)
        ]
        assert [_prediction_requests(url) for url in (fast.url, slow.url)] == [{"500": 1.0}] * 2
    assert answers[0].status_code == answers[1].status_code == 500
    assert answers[0].content == answers[1].content  # byte for byte
    assert answers[0].headers["content-type"] == answers[1].headers["content-type"] == "application/json"
    assert answers[0].json()["code"] == "internal_error"
