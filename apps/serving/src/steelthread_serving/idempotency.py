"""A repeated `request_id` gets the stored answer: the prediction's id is its idempotency key.

A client that retries a prediction after a timeout must not get a second answer (a canary bucket, a model
swap or a flag change between the two could make it differ) nor a second log record. Within
`STEELTHREAD_IDEMPOTENCY_WINDOW_S` of the first answer, the same key's owner sending the same `request_id`
with the same body gets the first answer's bytes again (the route says so in `Idempotent-Replayed: true`)
and nothing is logged; a different body under the same id is a 409. Requests in flight are joined: the
second waits for the first's answer instead of computing its own.

The store is this replica's memory, bounded by the window and by `STEELTHREAD_IDEMPOTENCY_MAX_ENTRIES`
(oldest first out): replicas share nothing, so a retry that a load balancer sends to another replica is
answered again (and logged again; monitoring counts a `request_id` once).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel

from steelthread_contracts import ErrorCode
from steelthread_serving.errors import ApiError


class _AbandonedError(Exception):
    """The first request of an id was cancelled before it had an answer."""


@dataclass
class _Entry:
    expires: float
    fingerprint: bytes
    answer: asyncio.Future[bytes]


def fingerprint(body: BaseModel) -> bytes:
    """The request as validated (so whitespace and key order do not matter), hashed."""
    return hashlib.sha256(body.model_dump_json().encode()).digest()


class IdempotencyStore:
    def __init__(
        self, window_s: float, max_entries: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def answer(
        self, owner: str, request_id: str, body: BaseModel, compute: Callable[[], Awaitable[bytes]]
    ) -> tuple[bytes, bool]:
        """The answer to `body` and whether it is a replay: the stored one for a known id and body,
        `compute()`'s otherwise; a known id with another body raises the 409."""
        if self.window_s <= 0:
            return await compute(), False
        now = self._clock()
        self._expire(now)
        key = (owner, request_id)
        digest = fingerprint(body)
        entry = self._entries.get(key)
        if entry is not None:
            if entry.fingerprint != digest:
                raise ApiError(
                    409,
                    ErrorCode.CONFLICT,
                    f"request_id {request_id!r} was already used with another body",
                    "request_id",
                )
            try:
                return await asyncio.shield(entry.answer), True
            except _AbandonedError:  # the first was cancelled (its client left): answer this one
                return await compute(), False
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._entries[key] = _Entry(now + self.window_s, digest, future)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        try:
            answer = await compute()
        except BaseException as exc:  # nothing stored: a retry computes again
            entry = self._entries.get(key)
            if entry is not None and entry.answer is future:
                del self._entries[key]
            failed = exc if isinstance(exc, Exception) else _AbandonedError()
            future.set_exception(failed)
            future.exception()  # retrieved here: a failure nobody joined logs no "never retrieved"
            raise
        future.set_result(answer)
        return answer, False

    def _expire(self, now: float) -> None:
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if entry.expires > now:
                return
            del self._entries[key]
