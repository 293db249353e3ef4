"""The raw-ASGI hot path for `POST /v1/predictions` answers exactly as the FastAPI route does.

Two real servers on the same settings, one with the hot path and one without, get the same requests;
status codes, bodies and prediction-log records must match (generated request ids aside). Errors are
always the FastAPI route's: the hot path passes anything it does not answer on, body included.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from helpers.packages import make_package, publish
from helpers.serving import API_KEY, APPLICATION, read_log, running, write_flags
from helpers.world import FeatureWorld
from steelthread_contracts import PredictionLogRecord
from steelthread_serving.settings import ServingSettings

JSON = {"content-type": "application/json"}
CASES: list[tuple[str, dict[str, str], bytes]] = [
    ("valid", JSON, json.dumps(APPLICATION | {"request_id": "same-1"}).encode()),
    ("explain", JSON, json.dumps(APPLICATION | {"request_id": "same-2", "explain": True}).encode()),
    ("charset", {"content-type": "application/json; charset=utf-8"}, json.dumps(APPLICATION).encode()),
    ("no content type", {}, json.dumps(APPLICATION).encode()),
    ("text/plain", {"content-type": "text/plain"}, json.dumps(APPLICATION).encode()),
    ("bad field", JSON, json.dumps(APPLICATION | {"loan_amount": -1}).encode()),
    ("extra field", JSON, json.dumps(APPLICATION | {"surprise": 1}).encode()),
    ("string amount", JSON, json.dumps(APPLICATION | {"loan_amount": "5"}).encode()),
    ("NaN", JSON, json.dumps(APPLICATION | {"loan_amount": float("nan")}).encode()),
    ("not json", JSON, b"{not json"),
    ("empty", JSON, b""),
    ("list", JSON, b"[]"),
    ("bad utf-8", JSON, b"\xff\xfe"),
    # Bodies where the hot path's parser (orjson) and FastAPI's (json) could differ: the last duplicate
    # key wins in both; a lone surrogate and a 70-bit integer are refused by orjson, so FastAPI decides.
    ("duplicate key", JSON, json.dumps(APPLICATION)[:-1].encode() + b', "loan_amount": 777.0}'),
    ("lone surrogate", JSON, json.dumps(APPLICATION | {"request_id": "x\ud800"}).encode()),
    ("70-bit integer", JSON, json.dumps(APPLICATION | {"customer_id": 2**70}).encode()),
]


def _ask(url: str, key: str | None, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, object]]:
    auth = {"X-API-Key": key} if key else {}
    r = httpx.post(f"{url}/v1/predictions", content=body, headers=headers | auth, timeout=10)
    answer = r.json()
    if isinstance(answer, dict) and str(answer.get("request_id", "")).startswith("req-"):
        answer["request_id"] = "generated"
    return r.status_code, answer


@pytest.fixture
def live_settings(model_settings: ServingSettings) -> ServingSettings:
    make_package(model_settings.resolved_models_dir, "1")
    publish(model_settings.resolved_models_dir, "champion", "1")
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
            answer = _ask(fast.url, key, headers, body)
            assert answer == _ask(slow.url, key, headers, body), name
            statuses[name] = answer[0]
    answered = {"valid", "explain", "charset", "known customer", "duplicate key"}
    if key == API_KEY:
        assert {name for name, status in statuses.items() if status == 200} == answered
        assert set(statuses.values()) == {200, 422}
    else:  # FastAPI refuses some undecodable bodies before it resolves the key; both paths alike
        assert statuses["valid"] == statuses["known customer"] == 401
        assert set(statuses.values()) <= {401, 422}
    fast_log = read_log(live_settings.resolved_prediction_log_dir)
    slow_log = read_log(slow_settings.resolved_prediction_log_dir)
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
