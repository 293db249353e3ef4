"""Per-key quotas: past its rate limit a key gets 429 with `Retry-After`; counted per key owner, in
memory per replica or in Redis shared by replicas; a quota store that fails lets requests through.

Real servers over HTTP, and a real throwaway `redis-server` for the shared count.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pydantic import SecretStr, ValidationError

from helpers.serving import API_KEY, APPLICATION, OTHER_KEY, free_port, running
from steelthread_serving.settings import ServingSettings


def test_past_its_limit_a_key_gets_429_with_retry_after(settings: ServingSettings) -> None:
    with running(settings.model_copy(update={"rate_limit": "3/minute"})) as live:
        with live.client() as c:
            answers = [c.post("/v1/predictions", json=APPLICATION) for _ in range(4)]
        with live.client(key=OTHER_KEY) as other:  # another owner has its own quota
            assert other.get("/v1/model").status_code == 200
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60


def test_a_request_without_a_valid_key_uses_no_quota(settings: ServingSettings) -> None:
    with running(settings.model_copy(update={"rate_limit": "2/minute"})) as live:
        with live.client(key="wrong-key-0123456789abcdef") as c:
            assert {c.get("/v1/model").status_code for _ in range(3)} == {401}
        with live.client() as c:
            assert c.get("/v1/model").status_code == 200


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: `apt-get install redis-server`")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("throwaway redis-server did not start")
            time.sleep(0.05)
    client.close()
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.services
def test_replicas_share_a_quota_in_redis(settings: ServingSettings, redis_url: str) -> None:
    key = f"quota-key-{uuid.uuid4().hex}"
    shared = settings.model_copy(
        update={"api_keys": [SecretStr(key)], "rate_limit": "3/minute", "rate_limit_storage": redis_url}
    )
    with (
        running(shared) as one,
        running(shared) as two,
        one.client(key=key) as a,
        two.client(key=key) as b,
    ):
        statuses = [client.get("/v1/model").status_code for client in (a, b, a, b)]
    assert statuses == [200, 200, 200, 429]


def test_a_quota_store_that_is_down_lets_requests_through(settings: ServingSettings) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    broken = settings.model_copy(update={"rate_limit": "1/minute", "rate_limit_storage": down})
    with running(broken) as live, live.client() as c:
        assert [c.get("/v1/model").status_code for _ in range(2)] == [200, 200]


@pytest.mark.parametrize(
    ("name", "value"),
    [("rate_limit", "lots/second"), ("rate_limit", "10 per fortnight"), ("rate_limit_storage", "mongo://x")],
)
def test_bad_quota_settings_are_refused(name: str, value: str) -> None:
    with pytest.raises(ValidationError, match=name):
        ServingSettings(api_keys=[API_KEY], **{name: value})  # type: ignore[list-item, arg-type]
