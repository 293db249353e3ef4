"""The enumeration throttle (ADR 0019): an unknown entity key is answered degraded, fail closed, and
counted against the key's `STEELTHREAD_UNKNOWN_ENTITY_LIMIT`; past it the key's predictions get 429
(`rate_limited`, naming the quota) before anything is scored, a counter moves and one
`enumeration_suspected` line names the key's owner. Known keys cost nothing; another key has its own count.

A real server with a registered model and a real online store (local Feast), in live mode.
"""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from helpers.packages import make_package, publish
from helpers.serving import API_KEY, OTHER_KEY, Live, body, read_log, running, wait_until, write_flags
from helpers.usecase import JOIN_KEY, UNKNOWN_ENTITY, USE_CASE
from helpers.world import FeatureWorld
from steelthread_serving.settings import ServingSettings

UNKNOWN_KEYS = range(987_654_000, 987_654_100)
"""Entity keys the generated world does not have."""


def _serving(live: Live, version: str) -> bool:
    with live.client() as c:
        return bool(c.get("/v1/model").json()["champion"]["version"] == version)


@pytest.fixture
def throttled(model_settings: ServingSettings) -> ServingSettings:
    assert model_settings.models_dir is not None
    make_package(model_settings.models_dir, "1")
    publish(model_settings.models_dir, "champion", "1")
    write_flags(model_settings.flags_path, "live")
    return model_settings.model_copy(
        update={
            "api_keys": [SecretStr(API_KEY), SecretStr(OTHER_KEY)],
            "unknown_entity_limit": "3/minute",
        }
    )


def test_past_its_unknown_entity_limit_a_key_is_refused_before_scoring(
    throttled: ServingSettings, world: FeatureWorld, caplog: pytest.LogCaptureFixture
) -> None:
    known = [body(r) for r in world.requests(5)]
    unknown = [known[0] | {JOIN_KEY: k} for k in UNKNOWN_KEYS[:4]]
    with running(throttled) as live:
        wait_until(lambda: _serving(live, "1"))
        with live.client() as c:
            first = [c.post("/v1/predictions", json=r) for r in known]  # cost nothing
            probes = [c.post("/v1/predictions", json=r) for r in unknown]  # the 4th passes the limit
            refused = [
                c.post("/v1/predictions", json=known[1]),  # a known entity too: the key is refused
                c.post("/v1/predictions/batch", json={"items": known[:2]}),
            ]
            model = c.get("/v1/model")
        with live.client(key=OTHER_KEY) as other:
            theirs = other.post("/v1/predictions", json=unknown[0])
        metrics = httpx.get(f"{live.url}/metrics").text
    assert [a.status_code for a in first] == [200] * 5
    assert not any(a.json()["degraded"] for a in first)
    assert [a.status_code for a in probes] == [200] * 4
    assert {(a.json()["degraded_reason"], a.json()["decision"]) for a in probes} == {
        (UNKNOWN_ENTITY, USE_CASE.policy.fallback)
    }
    for answer in refused:
        assert answer.status_code == 429
        assert answer.json()["code"] == "rate_limited"
        assert f"unknown {USE_CASE.entity.name} keys" in answer.json()["message"]
        assert 1 <= int(answer.headers["retry-after"]) <= 60
    assert model.status_code == 200  # reading the model scores nothing: not refused
    assert theirs.status_code == 200
    assert theirs.json()["degraded_reason"] == UNKNOWN_ENTITY
    # nothing refused was scored or logged: 5 known, 4 unknown, the other key's 1
    assert len(read_log(throttled.prediction_log_dir)) == 10
    assert 'steelthread_quota_refusals_total{quota="unknown-entities"} 2.0' in metrics
    suspected = [r for r in caplog.records if getattr(r, "event", None) == "enumeration_suspected"]
    assert len(suspected) == 1
    assert getattr(suspected[0], "client", None) == read_log(throttled.prediction_log_dir)[0]["client"]


def test_a_batch_of_unknown_keys_is_answered_whole_then_its_key_is_refused(
    throttled: ServingSettings, world: FeatureWorld
) -> None:
    """A batch is one request: all its unknown keys are answered (fail closed) and counted, even past the
    limit, so batches cannot probe more than the limit allows between two refusals."""
    template = body(world.requests(1)[0])
    batch = {"items": [template | {JOIN_KEY: k} for k in UNKNOWN_KEYS[:10]]}
    with running(throttled) as live:
        wait_until(lambda: _serving(live, "1"))
        with live.client() as c:
            answered = c.post("/v1/predictions/batch", json=batch)
            after = c.post("/v1/predictions/batch", json=batch)
    assert answered.status_code == 200
    assert [item["degraded_reason"] for item in answered.json()["items"]] == [UNKNOWN_ENTITY] * 10
    assert after.status_code == 429
    assert len(read_log(throttled.prediction_log_dir)) == 10
