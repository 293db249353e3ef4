"""A regression use case served end to end: a real `steelthread-serve` process runs a fixture use case
(tests/fixtures/usecases/regression_fixture.py: the session use case's world and features, task regression) in live mode
with a LightGBM regressor package, and answers the model's value under the use case's score name, decided
by the use case's cuts; its API document and feedback follow the task.

A process of its own, because a process serves one use case: its models are derived once, at import.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from fixtures.usecases.regression_fixture import BASE_ENV, CUTS, PATH

from helpers.packages import make_package, onnx_scores, publish
from helpers.serving import API_KEY, read_log, serve_process, write_flags
from helpers.usecase import JOIN_KEY, SCORE_FIELD
from helpers.world import FeatureWorld
from steelthread_contracts.decision import decide
from steelthread_contracts.usecase import active_name
from steelthread_features.definitions import FEATURE_NAMES
from steelthread_serving.settings import DEFAULT_FLAGS_PATH

TESTS = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Server:
    url: str
    package: Path
    log_dir: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, world: FeatureWorld) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("regression")
    flags = tmp / "flags.json"
    flags.write_bytes(DEFAULT_FLAGS_PATH.read_bytes())
    write_flags(flags, "live")
    package = make_package(tmp / "models", "1", task="regression", name="value-lgbm")
    publish(tmp / "models", "champion", "1")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")} | {
        "STEELTHREAD_USECASE": PATH,
        BASE_ENV: active_name(),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
        "STEELTHREAD_API_KEYS": API_KEY,
        "STEELTHREAD_DATA_DIR": str(world.root),
        "STEELTHREAD_MODELS_DIR": str(tmp / "models"),
        "STEELTHREAD_PREDICTION_LOG_DIR": str(tmp / "log"),
        "STEELTHREAD_FEEDBACK_DIR": str(tmp / "feedback"),
        "STEELTHREAD_FLAGS_PATH": str(flags),
        "STEELTHREAD_FEATURE_TIMEOUT_MS": "2000",
    }
    with serve_process(env, tmp / "server.log", ready_within=60) as url:
        yield Server(url=url, package=package, log_dir=tmp / "log")


def _client(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=5)


def test_live_answers_the_regressors_value_decided_by_the_use_cases_cuts(
    server: Server, world: FeatureWorld
) -> None:
    bodies = [r.model_dump(mode="json", exclude_none=True) | {"explain": True} for r in world.requests(20)]
    with _client(server) as c:
        answers = [c.post("/v1/predictions", json=b).json() for b in bodies]
        info = c.get("/v1/model").json()
    assert info["champion"]["version"] == "1"
    assert all(a["model_version"] == "1" and a["mode"] == "live" and not a["degraded"] for a in answers)
    assert all(SCORE_FIELD not in a for a in answers)
    matrix = np.array(
        [[np.nan if a["features"][n] is None else a["features"][n] for n in FEATURE_NAMES] for a in answers],
        dtype=np.float32,
    )
    offline = [float(s) for s in onnx_scores(server.package / "model.onnx", matrix, "regression")]
    assert [a["predicted_value"] for a in answers] == offline
    assert [a["decision"] for a in answers] == [decide(s, CUTS).value for s in offline]
    # The tiny model gives the world's rows values above 1: outside a probability's range (so the use
    # case's range applies, not [0, 1]), and declined by the cuts where the fallback would say review.
    assert any(s > 1 for s in offline)
    assert "decline" in {a["decision"] for a in answers}

    logged = {r["request_id"]: r for r in read_log(server.log_dir)}
    for answer, body in zip(answers, bodies, strict=True):
        record = logged[answer["request_id"]]
        assert record["score"] == answer["predicted_value"]
        assert record["entity_key"] == body[JOIN_KEY]  # the log names the entity key neutrally


def test_api_document_and_feedback_follow_the_task(server: Server) -> None:
    with _client(server) as c:
        schemas = c.get("/openapi.json").json()["components"]["schemas"]
        accepted = c.post(
            "/v1/feedback",
            json={"request_id": "r-1", "observed_label": 3.25, "observed_at": "2026-11-01T10:00:00Z"},
        )
        refused = c.post(
            "/v1/feedback",
            json={"request_id": "r-2", "observed_label": "high", "observed_at": "2026-11-01T10:00:00Z"},
        )
    score = schemas["PredictionResponse"]["properties"]["predicted_value"]
    assert (score["minimum"], score["maximum"], score["description"]) == (
        -1000.0,
        1000.0,
        "The predicted value.",
    )
    assert SCORE_FIELD not in schemas["PredictionResponse"]["properties"]
    assert schemas["FeedbackRecord"]["properties"]["observed_label"]["type"] == "number"
    assert accepted.status_code == 202
    assert (refused.status_code, refused.json()["field"]) == (422, "observed_label")
