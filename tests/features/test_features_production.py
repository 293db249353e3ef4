"""The production profile against real Redis and PostgreSQL.

Uses STEELTHREAD_REDIS_URL / STEELTHREAD_POSTGRES_DSN when set, else the servers on 127.0.0.1. Each run
gets a fresh PostgreSQL database and a fresh Feast project (Redis key suffix); both are removed after.
An unreachable server is a failure with a message, never a skip.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd
import psycopg
import pytest
import redis
import redis.asyncio

from steelthread_features import online, store
from steelthread_features.definitions import EVENT_TIMESTAMP, FEATURE_NAMES, USE_CASE
from steelthread_features.settings import FeatureSettings

pytestmark = pytest.mark.services

REDIS_URL = os.environ.get("STEELTHREAD_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_DSN = os.environ.get(
    "STEELTHREAD_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=disable"
)


def _with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


@pytest.fixture(scope="module")
def production(world, tmp_path_factory) -> Iterator[tuple[FeatureSettings, redis.Redis]]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is not reachable ({exc}); start it or set STEELTHREAD_REDIS_URL")
    admin_dsn = _with_database(POSTGRES_DSN, "postgres")
    try:
        admin = psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL at {admin_dsn} is not reachable ({exc}); start it or set STEELTHREAD_POSTGRES_DSN"
        )
    suffix = uuid.uuid4().hex[:12]
    database = f"st_features_{suffix}"
    project = f"st_test_{suffix}"
    admin.execute(f'CREATE DATABASE "{database}"')
    settings = FeatureSettings(
        profile="production",
        project=project,
        feast_dir=tmp_path_factory.mktemp("feast_prod"),
        offline_store_uri=str(world.settings.tables_dir.resolve()),
        redis_url=REDIS_URL,
        postgres_dsn=_with_database(POSTGRES_DSN, database),
    )
    try:
        store.apply(settings)
        yield settings, client
    finally:
        try:
            feast_store = store.get_store(settings)
            feast_store.teardown()
            feast_store.registry.teardown()
        finally:
            store.clear_cache()
            leftover = list(client.scan_iter(match=f"*{project}*".encode(), count=1000))
            if leftover:
                client.delete(*leftover)
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
            admin.close()


@pytest.fixture(scope="module")
def materialized_prod(world, production):
    settings, _ = production
    at = world.data.end - timedelta(hours=1)
    store.materialize(at, settings=settings)
    return at


def test_registry_lives_in_postgres(production) -> None:
    settings, _ = production
    with psycopg.connect(settings.postgres_dsn, connect_timeout=5) as conn:
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
        assert "feature_services" in tables
        count = conn.execute(
            "SELECT count(*) FROM feature_services WHERE project_id = %s", (settings.project,)
        ).fetchone()
    assert count is not None
    assert count[0] == 2


def test_production_training_frame_equals_local(world, production) -> None:
    settings, _ = production
    events = world.data.table(USE_CASE.tables.events).sample(n=200, random_state=8).reset_index(drop=True)
    entities = pd.concat(
        [world.hard_entities, events.rename(columns={USE_CASE.tables.event_time: EVENT_TIMESTAMP})],
        ignore_index=True,
    )
    prod = store.training_frame(entities, settings=settings)
    local = store.training_frame(entities, settings=world.settings)
    for name in FEATURE_NAMES:
        assert np.array_equal(prod[name].to_numpy(), local[name].to_numpy(), equal_nan=True), name


@pytest.mark.parametrize("engine", ["direct", "feast", "feast_odfv"])
def test_redis_online_vector_equals_training_frame(
    world, production, materialized_prod, make_requests, engine
) -> None:
    settings, client = production
    at = materialized_prod
    keys = list(client.scan_iter(match=f"*{settings.project}".encode(), count=1000))
    assert keys, "materialize wrote no Redis keys for this project"

    entities = pd.Series(world.entity_ids()).sample(n=40, random_state=2).tolist()
    requests = pd.DataFrame(make_requests(entities))
    offline = store.training_frame(requests.assign(**{EVENT_TIMESTAMP: pd.Timestamp(at)}), settings=settings)
    online = store.online_vector(requests.to_dict("records"), settings=settings, as_of=at, engine=engine)
    present = 0
    for i, vector in enumerate(online):
        for name in FEATURE_NAMES:
            off = offline.at[i, name]
            on = vector.values[name]
            if np.isnan(off):
                assert on is None, (i, name, on)
                assert name in vector.missing
            else:
                assert on == off, (i, name, on, off)
                present += 1
    assert present > 0.9 * len(online) * len(FEATURE_NAMES)

    [unknown] = store.online_vector(make_requests([999_999_999]), settings=settings, as_of=at)
    assert set(unknown.missing) >= STORED


STORED = {f for view in USE_CASE.views for f in view.served}
"""The batch features: all missing for an entity the store has never seen."""


def test_redis_direct_reader_equals_feast_for_every_entity(
    world, production, materialized_prod, make_requests
) -> None:
    settings, _ = production
    requests = make_requests([*world.entity_ids()[:400], 999_999_999])
    at = materialized_prod
    direct = store.online_vector(requests, settings=settings, as_of=at)
    assert direct == store.online_vector(requests, settings=settings, as_of=at, engine="feast")
    assert set(direct[-1].missing) >= STORED


def test_redis_async_reader_equals_the_sync_reader(
    world, production, materialized_prod, make_requests
) -> None:
    """Serving reads through `aread` (redis-py connections without its client, commands packed here):
    batches and single keys must give what the client path gives, on one connection reused throughout."""
    settings, _ = production
    entities = world.entity_ids()[:60]
    requests = make_requests([*entities, 999_999_999])
    at = materialized_prod
    reader = online.open_reader(settings)
    assert isinstance(reader, online.RedisReader)

    async def read() -> tuple[list[online.OnlineVector], list[online.OnlineVector], int]:
        batch = await online.online_vectors_async(requests, reader=reader, as_of=at)
        alone = [(await online.online_vectors_async([r], reader=reader, as_of=at))[0] for r in requests]
        idle = len(reader._idle)
        await reader.aclose()
        return batch, alone, idle

    batch, alone, idle = asyncio.run(read())
    expected = online.online_vectors(requests, reader=reader, as_of=at)
    reader.close()
    assert batch == expected
    assert alone == expected
    assert idle == 1  # sequential reads share one connection
    assert sum(not v.missing for v in expected) > len(entities) // 2

    key = online.entity_key(entities[0]) + settings.project.encode()
    packed = redis.asyncio.Connection().pack_command("HMGET", key, *reader._fields)
    assert reader.hmget_command(entities[0]) == b"".join(packed)
