"""Shadow, canary and live with a registered ONNX model and real online features (local Feast store)."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa

from helpers.packages import MODEL_NAME, make_package, onnx_scores, publish
from helpers.serving import API_KEY, APPLICATION, Live, body, read_log, running, wait_until, write_flags
from helpers.usecase import JOIN_KEY, REQUEST_NAMES, SCORE_FIELD, UNKNOWN_ENTITY, USE_CASE
from helpers.world import FeatureWorld
from steelthread_batch.package import load_package as load_batch_package
from steelthread_batch.scoring import RunInfo, score_batch
from steelthread_features.definitions import FEATURE_NAMES
from steelthread_serving.settings import ServingSettings

NOT_LOGGED = {p.name for p in USE_CASE.personal if p.handling == "drop"}
"""Fields the use case keeps out of answers' `features` and the log (steelthread_contracts.privacy)."""


def champion_version(live: Live) -> str | None:
    with live.client() as c:
        return c.get("/v1/model").json()["champion"]["version"]


def deploy(settings: ServingSettings, version: str, alias: str = "champion", seed: int = 0) -> Path:
    assert settings.models_dir is not None
    folder = make_package(settings.models_dir, version, seed=seed)
    publish(settings.models_dir, alias, version)
    return folder


def test_live_offline_and_batch_scores_are_identical(
    model_settings: ServingSettings, world: FeatureWorld
) -> None:
    folder = deploy(model_settings, "1")
    write_flags(model_settings.flags_path, "live")
    with running(model_settings) as live, live.client() as c:
        wait_until(lambda: champion_version(live) == "1")
        answers = [
            c.post("/v1/predictions", json=body(r) | {"explain": True}).json() for r in world.requests(20)
        ]
    kept = [n for n in FEATURE_NAMES if n not in NOT_LOGGED]
    assert all(a["model_version"] == "1" and a["mode"] == "live" and not a["degraded"] for a in answers)
    # a binary package decides with its own thresholds; other tasks with the use case's cuts
    expected_source = "package" if USE_CASE.task == "binary" else "use_case"
    assert {a["decided_by"] for a in answers} == {expected_source}
    # What serving read (the use case's personal fields are kept out of answers: read them from the store)
    matrix = world.matrix(world.requests(20), FEATURE_NAMES)
    answered = np.array(
        [[np.nan if a["features"][n] is None else a["features"][n] for n in kept] for a in answers],
        dtype=np.float32,
    )
    assert np.array_equal(answered, matrix[:, [FEATURE_NAMES.index(n) for n in kept]], equal_nan=True)
    offline = onnx_scores(folder / "model.onnx", matrix)
    assert [a[SCORE_FIELD] for a in answers] == [float(s) for s in offline]
    assert set(answers[0]["features"]) == set(kept)

    # Third path: the batch app's one scoring function on the same features gives the same scores.
    requests = world.requests(20)
    columns: dict[str, object] = {
        "request_id": [a["request_id"] for a in answers],
        JOIN_KEY: [getattr(r, JOIN_KEY) for r in requests],
        "event_timestamp": pa.array([datetime.now(UTC)] * len(answers), pa.timestamp("us", tz="UTC")),
    }
    columns |= {name: [r.model_dump(mode="json")[name] for r in requests] for name in REQUEST_NAMES}
    columns |= {
        n: pa.array(matrix[:, j].astype(np.float64), mask=np.isnan(matrix[:, j]))
        for j, n in enumerate(FEATURE_NAMES)
    }
    batch = pa.RecordBatch.from_pydict(columns)
    scored = score_batch(
        batch, load_batch_package(folder), RunInfo(run_id="parity", started_at=datetime.now(UTC))
    )
    assert scored.column("quarantine_reason").null_count == len(answers)
    assert scored.column("score").to_pylist() == [a[SCORE_FIELD] for a in answers]
    assert scored.column("decision").to_pylist() == [a["decision"] for a in answers]


def test_shadow_answers_the_skeleton_and_logs_the_model_score(
    model_settings: ServingSettings, world: FeatureWorld
) -> None:
    deploy(model_settings, "1")
    deploy(model_settings, "2", alias="challenger", seed=5)
    write_flags(model_settings.flags_path, "shadow")
    with running(model_settings) as live, live.client() as c:
        wait_until(lambda: champion_version(live) == "1")
        answers = [c.post("/v1/predictions", json=body(r)).json() for r in world.requests(10)]
        info = c.get("/v1/model").json()
    assert all(a["model_name"] == "skeleton" and not a["degraded"] for a in answers)
    assert info["challenger"]["version"] == "2"
    assert f"challenger {MODEL_NAME}:2 shadows" in info["reason"]
    records = read_log(model_settings.prediction_log_dir)
    assert len(records) == 10
    for record in records:
        roles = {s["role"]: s for s in record["scores"]}
        assert set(roles) == {"champion", "challenger", "fallback"}
        assert USE_CASE.score_range[0] <= roles["champion"]["score"] <= USE_CASE.score_range[1]
        assert record["score"] == roles["fallback"]["score"]
        assert record["features"]  # the features the model saw are logged for monitoring


def test_canary_fraction_is_sticky_per_customer(model_settings: ServingSettings, world: FeatureWorld) -> None:
    deploy(model_settings, "1")
    write_flags(model_settings.flags_path, "canary", 0.5)
    requests = world.requests(80)
    with running(model_settings) as live, live.client() as c:
        wait_until(lambda: champion_version(live) == "1")
        first = {
            getattr(r, JOIN_KEY): c.post("/v1/predictions", json=body(r)).json()["model_name"]
            for r in requests
        }
        again = {
            getattr(r, JOIN_KEY): c.post("/v1/predictions", json=body(r)).json()["model_name"]
            for r in requests
        }
    assert first == again
    share = sum(name == MODEL_NAME for name in first.values()) / len(first)
    # Binomial(80, 0.5): sd 0.056; 4 sd either side.
    assert 0.27 < share < 0.73


def test_unknown_customer_is_answered_degraded_not_500(
    model_settings: ServingSettings, world: FeatureWorld
) -> None:
    deploy(model_settings, "1")
    write_flags(model_settings.flags_path, "live")
    request = body(world.requests(1)[0]) | {JOIN_KEY: 987_654_321}
    with running(model_settings) as live, live.client() as c:
        wait_until(lambda: champion_version(live) == "1")
        answer = c.post("/v1/predictions", json=request)
        metrics = c.get("/metrics").text
    assert answer.status_code == 200
    data = answer.json()
    assert (data["model_name"], data["degraded"], data["degraded_reason"], data["decided_by"]) == (
        "skeleton",
        True,
        UNKNOWN_ENTITY,
        "fallback",
    )
    assert data["decision"] == USE_CASE.policy.fallback
    assert f'steelthread_degraded_predictions_total{{reason="{UNKNOWN_ENTITY}"}} 1.0' in metrics


def test_swap_under_load_fails_no_request_and_refuses_a_corrupt_package(
    model_settings: ServingSettings, world: FeatureWorld
) -> None:
    deploy(model_settings, "1", seed=1)
    write_flags(model_settings.flags_path, "live")
    requests = [body(r) for r in world.requests(30)]
    failures: list[str] = []
    versions: list[str] = []
    stop = threading.Event()
    with running(model_settings) as live:
        wait_until(lambda: champion_version(live) == "1")

        def hammer() -> None:
            with live.client() as c:
                i = 0
                while not stop.is_set():
                    r = c.post("/v1/predictions", json=requests[i % len(requests)])
                    i += 1
                    if r.status_code != 200 or r.json()["degraded"]:
                        failures.append(r.text)
                    else:
                        versions.append(r.json()["model_version"])

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        deploy(model_settings, "2", seed=2)
        wait_until(lambda: champion_version(live) == "2")
        broken = make_package(model_settings.models_dir, "3", seed=3)  # type: ignore[arg-type]
        (broken / "model.onnx").write_bytes(b"\x00corrupt")
        publish(model_settings.models_dir, "champion", "3")  # type: ignore[arg-type]
        with live.client() as c:
            wait_until(lambda: c.get("/v1/model").json()["last_refused"] is not None)
            info = c.get("/v1/model").json()
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert {"1", "2"} <= set(versions)
    assert "3" not in versions
    assert info["champion"]["version"] == "2"
    assert "model.onnx does not match its recorded sha256" in info["last_refused"]["reason"]
    assert len(read_log(model_settings.prediction_log_dir)) == len(versions)


def test_concurrent_requests_share_feature_reads_and_get_their_own_answers(
    model_settings: ServingSettings, world: FeatureWorld
) -> None:
    """Concurrent requests are read and scored in batches (one ONNX run per model per batch); every
    answer and every logged score must equal what the same request gets alone. The same ids are sent
    three times, so replays (idempotency.py) are off here: each pass is scored."""
    model_settings = model_settings.model_copy(update={"idempotency_window_s": 0.0})
    deploy(model_settings, "1")
    deploy(model_settings, "2", alias="challenger", seed=5)
    write_flags(model_settings.flags_path, "live")
    requests = [body(r) | {"explain": True, "request_id": f"c-{i}"} for i, r in enumerate(world.requests(40))]
    requests.append(APPLICATION | {JOIN_KEY: 987_654_321, "request_id": "c-unknown"})

    async def concurrently(url: str) -> list[dict[str, object]]:
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": API_KEY}, timeout=30) as client:
            answers = await asyncio.gather(*(client.post("/v1/predictions", json=r) for r in requests))
        return [a.json() for a in answers]

    with running(model_settings) as live, live.client() as c:
        wait_until(lambda: champion_version(live) == "1")
        wait_until(lambda: c.get("/v1/model").json()["challenger"] is not None)
        sequential = [c.post("/v1/predictions", json=r).json() for r in requests]
        together = asyncio.run(concurrently(live.url))
        batched = c.post("/v1/predictions/batch", json={"items": requests}).json()["items"]
        metrics = c.get("/metrics").text
    assert together == sequential  # each request got its own vector and score, in any batch
    assert batched == sequential  # the batch endpoint: one read and one run per model, in item order
    assert together[-1]["degraded_reason"] == UNKNOWN_ENTITY
    assert sum(not a["degraded"] for a in together) == len(requests) - 1

    logged: dict[str, list[list[object]]] = {}
    for record in read_log(model_settings.prediction_log_dir):
        scores = [[s["role"], s["model_version"], s["score"], s["error"]] for s in record["scores"]]
        logged.setdefault(str(record["request_id"]), []).append(scores)
    assert len(logged) == len(requests)
    for request_id, runs in logged.items():
        assert len(runs) == 3  # alone, concurrently, in the batch endpoint
        assert runs[0] == runs[1] == runs[2], request_id  # champion and challenger scores, bit for bit
    assert [role for role, *_ in logged["c-0"][0]] == ["champion", "challenger", "fallback"]

    series = {
        line.split()[0]: float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("steelthread_feature_batch_size_")
    }
    # Every request was read once, in fewer reads than requests: the concurrent ones were batched.
    assert series["steelthread_feature_batch_size_sum"] == 3 * len(requests)
    assert series["steelthread_feature_batch_size_count"] < 2 * len(requests) + 1
