"""Serving on the production feature profile against a real Redis (throwaway, on loopback) and PostgreSQL:
Redis stopped mid-traffic gives degraded answers, never a 500, and answers recover after it returns."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from helpers.packages import make_package, publish
from helpers.redis_server import ThrowawayRedis
from helpers.serving import API_KEY, Live, free_port, running, write_flags
from helpers.usecase import SCORE_FIELD
from helpers.world import FeatureWorld
from steelthread_contracts import PredictionRequest
from steelthread_features import store
from steelthread_features.settings import FeatureSettings
from steelthread_serving.batching import Models, Scored, ScoringBatcher
from steelthread_serving.features import OnlineFeatures
from steelthread_serving.metrics import ServingMetrics
from steelthread_serving.package import load_package
from steelthread_serving.settings import DEFAULT_FLAGS_PATH, ServingSettings

# Feast's SQL registry lets psycopg connections be garbage-collected open (third-party, not ours).
pytestmark = [
    pytest.mark.services,
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

POSTGRES_DSN = os.environ.get("STEELTHREAD_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _with_database(dsn: str, database: str) -> str:
    base, _, query = dsn.partition("?")
    root = base.rsplit("/", 1)[0]
    return f"{root}/{database}" + (f"?{query}" if query else "")


@pytest.fixture
def production(
    tmp_path: Path, world: FeatureWorld, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ServingSettings, ThrowawayRedis, FeatureSettings]]:
    server = ThrowawayRedis(free_port(), tmp_path)
    server.start()
    try:
        admin = psycopg.connect(_with_database(POSTGRES_DSN, "postgres"), autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL at {POSTGRES_DSN} is not reachable ({exc}); start it or set STEELTHREAD_POSTGRES_DSN"
        )
    suffix = uuid.uuid4().hex[:10]
    database, project = f"st_serving_{suffix}", f"st_serving_{suffix}"
    admin.execute(f'CREATE DATABASE "{database}"')
    env = {
        "STEELTHREAD_REDIS_URL": server.url,
        "STEELTHREAD_POSTGRES_DSN": _with_database(POSTGRES_DSN, database),
        "STEELTHREAD_OFFLINE_STORE_URI": str(world.settings.tables_dir.resolve()),
        "STEELTHREAD_PROJECT": project,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    features = FeatureSettings(profile="production", feast_dir=tmp_path / "var" / "feast")
    store.apply(features)
    store.materialize(datetime.now(UTC), settings=features)
    shutil.copy(DEFAULT_FLAGS_PATH, tmp_path / "flags.json")
    settings = ServingSettings(
        profile="production",
        data_dir=tmp_path / "var",
        api_keys=[API_KEY],  # type: ignore[list-item]
        pseudonym_key="redis-test-pseudonym-key",  # type: ignore[arg-type]  # production has no key file
        flags_path=tmp_path / "flags.json",
        flags_poll_ms=50,
        model_poll_ms=100,
        feature_timeout_ms=1000,
    )
    try:
        yield settings, server, features
    finally:
        server.stop()
        store.clear_cache()
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,)
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
        admin.close()


def _serve_champion(settings: ServingSettings) -> None:
    make_package(settings.models_dir, "1")
    publish(settings.models_dir, "champion", "1")
    write_flags(settings.flags_path, "live")


def _ask(live: Live, requests: list[dict[str, object]]) -> list[dict[str, object]]:
    with live.client() as c:
        answers = [c.post("/v1/predictions", json=r, timeout=30) for r in requests]
    assert {a.status_code for a in answers} == {200}
    return [a.json() for a in answers]


def _healthy(live: Live, requests: list[dict[str, object]]) -> list[dict[str, object]]:
    """Answers once the champion answers (the watcher loads it shortly after start)."""
    deadline = time.monotonic() + 15
    while _ask(live, requests)[0]["model_version"] != "1":
        assert time.monotonic() < deadline, "champion never answered"
        time.sleep(0.1)
    return _ask(live, requests)


def test_redis_outage_degrades_then_recovers(production, world: FeatureWorld) -> None:
    settings, server, features = production
    _serve_champion(settings)
    requests = [r.model_dump(mode="json", exclude_none=True) for r in world.requests(10)]

    with running(settings) as live:
        healthy = _healthy(live, requests)
        assert not any(a["degraded"] for a in healthy)

        server.stop()
        down = _ask(live, requests)
        assert all(a["degraded"] and a["model_name"] == "skeleton" for a in down)
        assert {a["degraded_reason"] for a in down} <= {"feature_store_error", "feature_store_timeout"}

        server.start()  # a new, empty Redis: the runbook's step is to re-materialise
        store.materialize(datetime.now(UTC), settings=features)
        recovered = _ask(live, requests)
        with live.client() as c:
            metrics = c.get("/metrics").text
    assert not any(a["degraded"] for a in recovered)
    assert [a[SCORE_FIELD] for a in recovered] == [a[SCORE_FIELD] for a in healthy]
    degraded_lines = [
        line for line in metrics.splitlines() if line.startswith("steelthread_degraded_predictions_total")
    ]
    assert any("feature_store" in line and not line.endswith(" 0.0") for line in degraded_lines), (
        degraded_lines
    )


def test_hung_redis_times_out_to_degraded_answers_then_recovers(production, world: FeatureWorld) -> None:
    settings, server, _ = production
    _serve_champion(settings)
    requests = [r.model_dump(mode="json", exclude_none=True) for r in world.requests(3)]

    with running(settings) as live:
        healthy = _healthy(live, requests)
        server.pause()
        try:
            started = time.monotonic()
            hung = _ask(live, requests)
            elapsed = time.monotonic() - started
        finally:
            server.resume()
        recovered = _ask(live, requests)  # same data still in Redis: no re-materialisation needed
    assert [a["degraded_reason"] for a in hung] == ["feature_store_timeout"] * 3
    assert all(a["model_name"] == "skeleton" for a in hung)
    # Each answer waited for the 1 s feature timeout, not for Redis (which never answered).
    assert elapsed < 3 * settings.feature_timeout_ms / 1000 + 3
    # A timed-out connection must not hand a late reply to the next request: scores match again.
    assert [a[SCORE_FIELD] for a in recovered] == [a[SCORE_FIELD] for a in healthy]
    assert not any(a["degraded"] for a in recovered)


def test_the_first_request_of_a_batch_may_be_cancelled_without_stranding_the_rest(
    production, world: FeatureWorld, tmp_path: Path
) -> None:
    """With Redis, the first request of a batch reads for it (batching.py): cancelled before the batch
    is taken, or after, the other requests still get their vectors and scores, equal to reading alone."""
    settings, _, features = production
    model = load_package(make_package(tmp_path / "models", "1"), ["CPUExecutionProvider"])
    requests = world.requests(3)
    models = (("champion", model),)

    async def scenario(cancel_after_turns: int | None) -> list[Scored | None]:
        online = OnlineFeatures(features, timeout=settings.feature_timeout_ms / 1000)
        batcher = ScoringBatcher(online, ServingMetrics())
        try:
            tasks = [asyncio.create_task(batcher.score(r, models)) for r in requests]
            if cancel_after_turns is not None:
                for _ in range(cancel_after_turns):
                    await asyncio.sleep(0)
                tasks[0].cancel()
            done = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=10)
            return [None if isinstance(d, BaseException) else d for d in done]
        finally:
            await online.aclose()

    def scores(answers: list[Scored | None]) -> list[float | None]:
        assert all(a is None or a[0].problem is None for a in answers)
        return [None if a is None else a[1]["champion"]["score"] for a in answers]

    together = scores(asyncio.run(scenario(None)))
    alone = [scores(asyncio.run(_alone(features, settings, r, models)))[0] for r in requests]
    assert together == alone
    assert all(s is not None for s in together)
    for turns in (1, 2):  # 1: during the leader's loop turn; 2: while the batch is being read
        answers = asyncio.run(scenario(turns))
        assert answers[0] is None  # the cancelled request
        assert scores(answers)[1:] == together[1:]


async def _alone(
    features: FeatureSettings, settings: ServingSettings, request: PredictionRequest, models: Models
) -> list[Scored | None]:
    online = OnlineFeatures(features, timeout=settings.feature_timeout_ms / 1000)
    try:
        return [await ScoringBatcher(online, ServingMetrics()).score(request, models)]
    finally:
        await online.aclose()
