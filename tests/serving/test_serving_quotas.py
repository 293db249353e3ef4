"""Quotas: past one a caller gets 429 with `Retry-After`. Per key owner: its rate limit and the bytes of
records it causes to be logged (refused before anything is scored, so no answer goes unlogged); per client
address: requests without a valid key (refused before the key is checked). Counted in memory per replica
or in Redis shared by replicas; a quota store that fails lets requests through.

Real servers over HTTP (a client address of its own through `X-Forwarded-For`, which uvicorn trusts from
loopback), and a real throwaway `redis-server` for the shared count. The unknown-entity quota needs a
model and a feature store: test_serving_enumeration.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from pydantic import SecretStr, ValidationError

from helpers.redis_server import ThrowawayRedis
from helpers.serving import API_KEY, APPLICATION, OTHER_KEY, free_port, running
from steelthread_contracts import ErrorBody
from steelthread_serving.settings import ServingSettings

WRONG_KEY = "wrong-key-0123456789abcdef"
ELSEWHERE = {"X-Forwarded-For": "203.0.113.7"}
"""Another client address (a documentation address): uvicorn takes it from a proxy on loopback."""


def refused_by(answer: httpx.Response, words: str) -> bool:
    """A 429 whose error body names the quota (`words`) and whose `Retry-After` is a period's seconds."""
    if answer.status_code != 429:
        return False
    error = ErrorBody.model_validate(answer.json())
    return error.code == "rate_limited" and words in error.message and int(answer.headers["retry-after"]) >= 1


def logged_sizes(directory: Path, prefix: str = "predictions") -> list[int]:
    """The size of each record in a sink's JSON-lines files, in the order written."""
    return [
        len(line)
        for file in sorted(directory.glob(f"{prefix}-*.jsonl"))
        for line in file.read_bytes().splitlines()
        if line
    ]


def metric(live_url: str, name: str) -> str:
    return "\n".join(
        line for line in httpx.get(f"{live_url}/metrics").text.splitlines() if line.startswith(name)
    )


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
        with live.client(key=WRONG_KEY) as c:
            assert {c.get("/v1/model").status_code for _ in range(3)} == {401}
        with live.client() as c:
            assert c.get("/v1/model").status_code == 200


def test_past_its_failed_authentications_an_address_gets_429_before_any_key_check(
    settings: ServingSettings, caplog: pytest.LogCaptureFixture
) -> None:
    limited = settings.model_copy(update={"auth_failure_rate_limit": "3/minute", "rate_limit": "4/minute"})
    with running(limited) as live:
        with live.client(key=None) as nokey, live.client(key=WRONG_KEY) as wrong, live.client() as good:
            failures = [
                nokey.get("/v1/model").status_code,
                wrong.get("/v1/model").status_code,
                nokey.get("/v1/model", headers=[("X-API-Key", API_KEY)] * 2).status_code,  # repeated
                wrong.post("/v1/predictions", json=APPLICATION).status_code,  # passes the limit
            ]
            refused = [
                wrong.get("/v1/model"),
                good.get("/v1/model"),  # a valid key too: the address is refused before its key is read
                good.post("/v1/predictions", json=APPLICATION),
            ]
            # another address is another count, and the refusals above used none of the key's quota
            elsewhere = [good.get("/v1/model", headers=ELSEWHERE).status_code for _ in range(5)]
        refusals = metric(live.url, "steelthread_quota_refusals_total")
    assert failures == [401, 401, 401, 401]
    assert all(refused_by(a, "without a valid API key from this address") for a in refused)
    assert int(refused[0].headers["retry-after"]) <= 60
    assert elsewhere == [200, 200, 200, 200, 429]
    assert 'steelthread_quota_refusals_total{quota="auth-failures"} 3.0' in refusals
    assert 'steelthread_quota_refusals_total{quota="requests"} 1.0' in refusals
    events = [r for r in caplog.records if getattr(r, "event", None) == "auth_failures_exceeded"]
    assert [getattr(r, "address", None) for r in events] == ["127.0.0.1"]


def test_failed_authentications_are_counted_by_default_and_can_be_turned_off(
    settings: ServingSettings,
) -> None:
    assert ServingSettings.model_fields["auth_failure_rate_limit"].default  # on unless turned off
    with running(settings) as live, live.client(key=WRONG_KEY) as c:
        default = settings.quota_limits().auth_failures[0].amount
        statuses = {c.get("/v1/model").status_code for _ in range(default + 1)}
        assert c.get("/v1/model").status_code == 429
    assert statuses == {401}
    off = settings.model_copy(update={"auth_failure_rate_limit": ""})
    with running(off) as live, live.client(key=WRONG_KEY) as c:
        assert {c.get("/v1/model").status_code for _ in range(default + 2)} == {401}


def test_past_its_logged_bytes_a_key_is_refused_before_scoring_and_every_answer_is_logged(
    settings: ServingSettings,
) -> None:
    limit = 3000
    capped = settings.model_copy(update={"log_bytes_limit": f"{limit}/minute"})
    with running(capped) as live:
        with live.client() as c:
            answers = []
            while not answers or answers[-1].status_code == 200:
                answers.append(c.post("/v1/predictions", json=APPLICATION))
                assert len(answers) < 100, "the logged-bytes quota never refused"
            batch = c.post("/v1/predictions/batch", json={"items": [APPLICATION]})
            model = c.get("/v1/model")  # reads log nothing: not refused
        with live.client(key=OTHER_KEY) as other:  # another owner has its own count
            theirs = other.post("/v1/predictions", json=APPLICATION)
    answered = [a for a in answers if a.status_code == 200]
    assert refused_by(answers[-1], "logged-bytes quota")
    assert refused_by(batch, "logged-bytes quota")
    assert (model.status_code, theirs.status_code) == (200, 200)
    sizes = logged_sizes(capped.prediction_log_dir)
    # every answer logged, nothing refused was scored or logged (the other key's one record aside) ...
    assert len(sizes) == len(answered) + 1
    mine = sizes[: len(answered)]
    # ... and the answer that passed the limit was the last: an overshoot of one request at most
    assert sum(mine[:-1]) <= limit < sum(mine)


def test_a_batch_is_charged_its_records_bytes_and_feedback_its_own(settings: ServingSettings) -> None:
    """A batch is one request: answered and logged whole even when it passes the limit (its overshoot),
    and the key is refused afterwards; a feedback record counts too."""
    capped = settings.model_copy(update={"log_bytes_limit": "1/minute"})
    feedback = {"request_id": "req-feedback-1", "observed_label": 1, "observed_at": "2026-12-07T10:00:00Z"}
    with running(capped) as live:
        with live.client() as c:
            batch = c.post("/v1/predictions/batch", json={"items": [APPLICATION] * 5})
            after = c.post("/v1/predictions", json=APPLICATION)
        with live.client(key=OTHER_KEY) as other:
            first = other.post("/v1/feedback", json=feedback)
            second = other.post("/v1/feedback", json=feedback)
    assert batch.status_code == 200
    assert len(batch.json()["items"]) == 5
    assert len(logged_sizes(capped.prediction_log_dir)) == 5
    assert refused_by(after, "logged-bytes quota")
    assert first.status_code == 202
    assert refused_by(second, "logged-bytes quota")
    assert len(logged_sizes(capped.feedback_dir, "feedback")) == 1


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = ThrowawayRedis(free_port(), tmp_path)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def in_redis(settings: ServingSettings, redis_url: str, **update: object) -> tuple[str, ServingSettings]:
    """A key of the test's own (so no other test's counts are its), its quotas counted in `redis_url`."""
    key = f"quota-key-{uuid.uuid4().hex}"
    return key, settings.model_copy(
        update={"api_keys": [SecretStr(key)], "rate_limit_storage": redis_url, **update}
    )


@pytest.mark.services
def test_replicas_share_a_quota_in_redis(settings: ServingSettings, redis_url: str) -> None:
    key, shared = in_redis(settings, redis_url, rate_limit="3/minute")
    with (
        running(shared) as one,
        running(shared) as two,
        one.client(key=key) as a,
        two.client(key=key) as b,
    ):
        statuses = [client.get("/v1/model").status_code for client in (a, b, a, b)]
    assert statuses == [200, 200, 200, 429]


@pytest.mark.services
def test_replicas_share_logged_bytes_and_failed_authentications_in_redis(
    settings: ServingSettings, redis_url: str
) -> None:
    key, shared = in_redis(
        settings,
        redis_url,
        log_bytes_limit="1/minute",
        auth_failure_rate_limit="1/minute",
        quota_sync_ms=0,  # every check and charge in the store: the replicas agree at once
    )
    with running(shared) as one, running(shared) as two:
        with one.client(key=key) as a, two.client(key=key) as b:
            logged = a.post("/v1/predictions", json=APPLICATION)
            refused = b.post("/v1/predictions", json=APPLICATION)
        with one.client(key=WRONG_KEY) as a, two.client(key=WRONG_KEY) as b:
            failures = [a.get("/v1/model", headers=ELSEWHERE).status_code for _ in range(2)]
            blocked = b.get("/v1/model", headers=ELSEWHERE)
    assert logged.status_code == 200
    assert refused_by(refused, "logged-bytes quota")
    assert failures == [401, 401]
    assert refused_by(blocked, "without a valid API key from this address")


def store_calls(url: str) -> int:
    """The commands the Redis server at `url` has run (its own count, INFO commandstats)."""
    stats = redis.Redis.from_url(url).info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k not in ("cmdstat_info", "cmdstat_select"))


@pytest.mark.services
@pytest.mark.parametrize(("sync_ms", "most"), [(0, None), (60_000, 3)])
def test_a_replica_syncs_its_quotas_with_a_shared_store_once_per_interval(
    settings: ServingSettings, redis_url: str, sync_ms: int, most: int | None
) -> None:
    """Predictions count against the logged-bytes, unknown-entity and failed-authentication quotas. In sync
    mode (the default for a shared store) a replica asks the store once per caller and interval, not on
    every request; with 0, every check and charge is a round trip."""
    shared = settings.model_copy(
        update={
            "log_bytes_limit": "1000000/minute",
            "rate_limit_storage": redis_url,
            "quota_sync_ms": sync_ms,
        }
    )
    requests = 20
    with running(shared) as live, live.client() as c:
        before = store_calls(redis_url)
        statuses = {c.post("/v1/predictions", json=APPLICATION).status_code for _ in range(requests)}
        during = store_calls(redis_url) - before
    assert statuses == {200}
    if most is None:
        assert during >= 4 * requests  # three checks before each answer, one charge after it
    else:
        assert during <= most  # the first request's checks; the bytes are charged at shutdown


@pytest.mark.services
def test_in_sync_mode_replicas_see_each_others_logged_bytes_within_the_interval(
    settings: ServingSettings, redis_url: str
) -> None:
    """Replica one's bytes reach the store once the interval has passed, and from then on both replicas
    refuse the key; a replica's own bytes are charged before it asks the store again."""
    interval = 0.3
    key, shared = in_redis(
        settings, redis_url, log_bytes_limit="1/minute", quota_sync_ms=int(interval * 1000)
    )
    with (
        running(shared) as one,
        running(shared) as two,
        one.client(key=key) as a,
        two.client(key=key) as b,
    ):
        first = [a.post("/v1/predictions", json=APPLICATION).status_code for _ in range(2)]
        time.sleep(interval * 1.5)
        after_one = a.post("/v1/predictions", json=APPLICATION)  # charges its bytes, then asks: past it
        after_two = b.post("/v1/predictions", json=APPLICATION)  # its first check sees one's bytes
    assert first == [200, 200]  # within the interval the replica does not ask the store again
    assert refused_by(after_one, "logged-bytes quota")
    assert refused_by(after_two, "logged-bytes quota")


@pytest.mark.services
def test_in_sync_mode_failed_authentications_stay_exact_and_bytes_are_charged_at_shutdown(
    settings: ServingSettings, redis_url: str
) -> None:
    """A 401 is charged at once and makes the address's next request ask the store, so a replica refuses
    an address at its limit whatever the interval; bytes added up and not yet charged reach the store when
    the replica stops."""
    key, synced = in_redis(
        settings,
        redis_url,
        auth_failure_rate_limit="2/minute",
        log_bytes_limit="1/minute",
        quota_sync_ms=60_000,
    )
    with running(synced) as live, live.client(key=key) as good, live.client(key=WRONG_KEY) as wrong:
        logged = [good.post("/v1/predictions", json=APPLICATION).status_code for _ in range(2)]
        failures = [wrong.get("/v1/model", headers=ELSEWHERE).status_code for _ in range(3)]
        blocked = good.get("/v1/model", headers=ELSEWHERE)
    exact = synced.model_copy(update={"quota_sync_ms": 0})
    with running(exact) as later, later.client(key=key) as c:
        after_shutdown = c.post("/v1/predictions", json=APPLICATION)
    assert logged == [200, 200]
    assert failures == [401, 401, 401]  # the third passes the limit, and is still answered with 401
    assert refused_by(blocked, "without a valid API key from this address")
    assert refused_by(after_shutdown, "logged-bytes quota")


def test_a_quota_store_that_is_down_lets_requests_through(settings: ServingSettings) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    broken = settings.model_copy(
        update={"rate_limit": "1/minute", "log_bytes_limit": "1/minute", "rate_limit_storage": down}
    )
    with running(broken) as live, live.client() as c:
        assert [c.get("/v1/model").status_code for _ in range(2)] == [200, 200]
        assert [c.post("/v1/predictions", json=APPLICATION).status_code for _ in range(2)] == [200, 200]
    with running(broken) as live, live.client(key=WRONG_KEY) as c:
        assert [c.get("/v1/model").status_code for _ in range(3)] == [401, 401, 401]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("rate_limit", "lots/second"),
        ("rate_limit", "10 per fortnight"),
        ("rate_limit_storage", "mongo://x"),
        ("auth_failure_rate_limit", "many/minute"),
        ("log_bytes_limit", "1GB/day"),
        ("unknown_entity_limit", "100 a minute"),
        ("quota_sync_ms", "-1"),
    ],
)
def test_bad_quota_settings_are_refused(name: str, value: str) -> None:
    with pytest.raises(ValidationError, match=name):
        ServingSettings(api_keys=[API_KEY], **{name: value})  # type: ignore[list-item, arg-type]
