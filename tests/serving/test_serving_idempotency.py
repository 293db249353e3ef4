"""A repeated `request_id` is a replay: the stored answer, no second log record; another body is a 409.

Over real HTTP for the route's behaviour (the header, the log, per-owner keys), and on the store itself for
its bounds (window, size) and for requests in flight at once.
"""

from __future__ import annotations

import asyncio
import contextlib

from pydantic import BaseModel

from helpers.serving import APPLICATION, OTHER_KEY, Live, read_log
from helpers.usecase import JOIN_KEY
from steelthread_serving.idempotency import IdempotencyStore


def test_a_repeated_request_id_gets_the_stored_answer_and_logs_once(live: Live) -> None:
    body = APPLICATION | {"request_id": "retry-1"}
    with live.client() as c:
        first = c.post("/v1/predictions", json=body)
        second = c.post("/v1/predictions", json=body)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["x-request-id"] == "retry-1"
    assert [r["request_id"] for r in read_log(live.settings.prediction_log_dir)] == ["retry-1"]


def test_another_body_under_the_same_id_is_a_conflict(live: Live) -> None:
    with live.client() as c:
        c.post("/v1/predictions", json=APPLICATION | {"request_id": "retry-2"})
        r = c.post("/v1/predictions", json=APPLICATION | {"request_id": "retry-2", JOIN_KEY: 7})
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["field"], r.json()["request_id"]) == (
        "conflict",
        "request_id",
        "retry-2",
    )
    assert len(read_log(live.settings.prediction_log_dir)) == 1


def test_ids_are_per_key_owner_and_batch_items_replay_too(live: Live) -> None:
    body = APPLICATION | {"request_id": "retry-3"}
    with live.client() as c, live.client(key=OTHER_KEY) as other:
        c.post("/v1/predictions", json=body)
        theirs = other.post("/v1/predictions", json=body)  # another owner's id space: answered anew
        batch = c.post("/v1/predictions/batch", json={"items": [body, APPLICATION | {"request_id": "b-1"}]})
    assert "idempotent-replayed" not in theirs.headers
    assert batch.status_code == 200
    logged = [r["request_id"] for r in read_log(live.settings.prediction_log_dir)]
    assert sorted(logged) == ["b-1", "retry-3", "retry-3"]


class _Body(BaseModel):
    value: int


def test_the_store_forgets_past_its_window_and_its_size() -> None:
    calls: list[int] = []

    async def compute(n: int) -> bytes:
        calls.append(n)
        return str(n).encode()

    async def scenario() -> None:
        store = IdempotencyStore(window_s=0.2, max_entries=2)
        assert await store.answer("o", "a", _Body(value=1), lambda: compute(1)) == (b"1", False)
        assert await store.answer("o", "a", _Body(value=1), lambda: compute(2)) == (b"1", True)
        await asyncio.sleep(0.25)
        assert await store.answer("o", "a", _Body(value=1), lambda: compute(3)) == (b"3", False)
        await store.answer("o", "b", _Body(value=1), lambda: compute(4))
        await store.answer("o", "c", _Body(value=1), lambda: compute(5))
        assert len(store) == 2  # "a" went first
        assert await store.answer("o", "a", _Body(value=1), lambda: compute(6)) == (b"6", False)

    asyncio.run(scenario())
    assert calls == [1, 3, 4, 5, 6]


def test_requests_in_flight_with_one_id_are_answered_once() -> None:
    calls = 0

    async def slow() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return b"answer"

    async def scenario() -> list[tuple[bytes, bool]]:
        store = IdempotencyStore(window_s=60, max_entries=10)
        return list(await asyncio.gather(*(store.answer("o", "x", _Body(value=1), slow) for _ in range(3))))

    answers = asyncio.run(scenario())
    assert calls == 1
    assert answers == [(b"answer", False), (b"answer", True), (b"answer", True)]


def test_a_failed_answer_is_not_stored() -> None:
    attempts = 0

    async def flaky() -> bytes:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("store down")
        return b"ok"

    async def scenario() -> tuple[bytes, bool]:
        store = IdempotencyStore(window_s=60, max_entries=10)
        with contextlib.suppress(RuntimeError):
            await store.answer("o", "x", _Body(value=1), flaky)
        return await store.answer("o", "x", _Body(value=1), flaky)

    assert asyncio.run(scenario()) == (b"ok", False)


def test_a_zero_window_turns_replays_off() -> None:
    async def scenario() -> list[bool]:
        store = IdempotencyStore(window_s=0, max_entries=10)
        answers = [
            await store.answer("o", "x", _Body(value=1), lambda: asyncio.sleep(0, b"a")) for _ in range(2)
        ]
        return [replayed for _, replayed in answers]

    assert asyncio.run(scenario()) == [False, False]
