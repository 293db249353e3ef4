"""Quotas: past one, a caller gets 429 with `Retry-After`, before its body is read or anything is scored.

Each quota is a list of limits in the `limits` library's notation, several separated by `;`
(`100/second;5000/minute`; empty turns it off), counted by the library in one store: this replica's memory
by default, or Redis (`STEELTHREAD_RATE_LIMIT_STORAGE=redis://...`) so every replica counts against the same
quota. Four quotas:

- `requests` (`STEELTHREAD_RATE_LIMIT`): every request of a key's owner, counted as it arrives.
- `auth_failures` (`STEELTHREAD_AUTH_FAILURE_RATE_LIMIT`): the 401s (a missing, repeated or unknown key)
  of one client address. Past it, every request from the address gets 429 before its key is checked, so
  guessing keys is slowed; a valid key's own quota is another count.
- `logged_bytes` (`STEELTHREAD_LOG_BYTES_LIMIT`): the bytes of prediction-log and feedback records a key's
  owner caused to be written.
- `unknown_entities` (`STEELTHREAD_UNKNOWN_ENTITY_LIMIT`): answers for an entity key the feature store does
  not know (`unknown_customer`): a key walking ids to learn which exist (ADR 0019).

The last three are charged after the fact (a 401 is known once the key is checked, a record's size once it
is written, an unknown key once the store is read) and checked before the next request, so nothing is
scored and then refused, and no answer goes unlogged. They count in fixed windows, whose counter takes
every charge, even one past the limit: the sliding-window counter refuses, and so forgets, a charge larger
than what is left (a batch's records), which would then never exhaust the quota. A quota is exceeded once
its charges pass the limit, so the request that passes it is still answered: one request's overshoot for a
sequential caller (one whole batch), one per request in flight for a concurrent one.

With a shared store (ADR 0020), a round trip per check and charge would cost more than the rest of a
prediction (five per prediction in the manifests' configuration). So a replica syncs the three after-the-fact
quotas with the store at most every `STEELTHREAD_QUOTA_SYNC_MS` per caller: a caller's passed check stands
that long, and its logged bytes are added up here and charged to the store once that long has passed (at
its next request or check, else at shutdown). A failed authentication and an unknown entity key are
charged at once and make the caller's next request check the store again, so those two stay exact where
they are caused; what another replica charges is seen here within the interval, and a key's logged bytes
can pass their quota by what it logs in one interval on each replica. The per-key rate limit is counted in
the store on every request, its exact meaning. With the memory store nothing is synced.

When the store fails (Redis down), requests are let through and the failure is logged: a quota store must
not take the API down.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse_many
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.storage import storage_from_string
from prometheus_client import Counter

from steelthread_contracts import ErrorCode
from steelthread_serving.errors import ApiError

logger = logging.getLogger(__name__)
events = logging.getLogger(f"{__name__}.events")
"""Quota crossings (`auth_failures_exceeded`, `enumeration_suspected`): not throttled like `logger` (one
line per caller and period, each naming its caller)."""


def parse_limits(text: str) -> list[RateLimitItem]:
    """The limits of a setting (`ValueError` naming the notation for a bad one); empty: none."""
    if not text.strip():
        return []
    try:
        return parse_many(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a rate limit like '100/second;5000/minute' ({exc})") from None


def async_storage_uri(uri: str) -> str:
    """The `limits` async storage for a plain URI (`memory://`, `redis://host:6379/0`)."""
    return uri if uri.startswith("async+") else f"async+{uri}"


@dataclass
class Usage:
    """What one request caused, charged to its key's quotas once it is answered (routes.py)."""

    logged_bytes: int = 0
    """Bytes of the prediction-log and feedback records it wrote."""
    unknown_entities: int = 0
    """Answers for an entity key the feature store does not know."""


_MAX_REMEMBERED = 100_000
"""Callers whose passed check a quota remembers at once (client addresses are the clients' to choose)."""


class Quota:
    """One quota: its limits, counted per caller under its own name (two quotas with equal limits never
    share a counter), with the 429 that names it. `sync_s` > 0 (a shared store): a passed check stands
    that long per caller, and `charge_later` charges the store at most that often (the module says why)."""

    def __init__(
        self,
        name: str,
        limits: list[RateLimitItem],
        limiter: RateLimiter,
        refused: Counter,
        message: str,
        sync_s: float = 0.0,
    ) -> None:
        self.name = name
        self.limits = limits
        self.sync_s = sync_s
        self._limiter = limiter
        self._refused = refused.labels(quota=name)  # the series exists from the start, for increase()
        self._message = message  # the 429's; `{limit}` names the limit passed
        self._passed_until: dict[str, float] = {}  # caller -> monotonic time its passed check stands until
        self._pending: dict[str, tuple[int, float]] = {}  # caller -> (cost not yet charged, since when)

    def __bool__(self) -> bool:
        return bool(self.limits)

    async def hit(self, who: str) -> None:
        """Count one request of `who`; the 429 when one of the limits is exhausted (`requests`)."""
        for limit in self.limits:
            try:
                if await self._limiter.hit(limit, self.name, who):
                    continue
            except Exception as exc:  # the store, not the caller, failed: let the request through
                _store_failed(exc)
                return
            raise await self._refusal(limit, who)

    async def refuse_if_exceeded(self, who: str) -> None:
        """The 429 when `who`'s charges have passed one of the limits in its current period (as the store
        counted them at most `sync_s` ago)."""
        if self.sync_s:
            now = time.monotonic()
            if self._passed_until.get(who, 0.0) > now:
                return
            await self._flush(who)  # the store sees this replica's own charges before it is asked
        for limit in self.limits:
            try:
                # cost 0: refused once the counter is past the amount, not when it reaches it (charges
                # are counted after the fact, see the module's docstring)
                if await self._limiter.test(limit, self.name, who, cost=0):
                    continue
            except Exception as exc:
                _store_failed(exc)
                return
            raise await self._refusal(limit, who)
        if self.sync_s:
            self._remember(who, time.monotonic() + self.sync_s)

    def _remember(self, who: str, until: float) -> None:
        if len(self._passed_until) >= _MAX_REMEMBERED:
            now = time.monotonic()
            self._passed_until = {w: t for w, t in self._passed_until.items() if t > now}
            if len(self._passed_until) >= _MAX_REMEMBERED:
                self._passed_until.clear()  # every caller checks the store again: slower, never wrong
        self._passed_until[who] = until

    async def charge(self, who: str, cost: int) -> bool:
        """Count `cost` for `who` against every limit now; False when this charge passed one of them.
        `who`'s next check asks the store again."""
        self._passed_until.pop(who, None)
        within = True
        for limit in self.limits:
            try:
                within = await self._limiter.hit(limit, self.name, who, cost=cost) and within
            except Exception as exc:
                _store_failed(exc)
                return True
        return within

    async def charge_later(self, who: str, cost: int) -> None:
        """Count `cost` for `who`: at once without `sync_s`, else added up here and charged once `sync_s`
        has passed since the first cost not yet charged (or at `who`'s next store check, or `flush`)."""
        if not self.sync_s:
            await self.charge(who, cost)
            return
        now = time.monotonic()
        owed, since = self._pending.get(who, (0, now))
        if now - since >= self.sync_s:
            self._pending.pop(who, None)
            await self.charge(who, owed + cost)
        else:
            self._pending[who] = (owed + cost, since)

    async def _flush(self, who: str) -> None:
        owed = self._pending.pop(who, None)
        if owed is not None:
            await self.charge(who, owed[0])

    async def flush(self) -> None:
        """Charge every cost not yet charged (at shutdown)."""
        for who in list(self._pending):
            await self._flush(who)

    async def _refusal(self, limit: RateLimitItem, who: str) -> ApiError:
        try:
            reset = (await self._limiter.get_window_stats(limit, self.name, who)).reset_time
        except Exception as exc:
            _store_failed(exc)
            reset = time.time() + limit.get_expiry()
        retry_after = max(1, math.ceil(reset - time.time()))
        self._refused.inc()
        return ApiError(
            429,
            ErrorCode.RATE_LIMITED,
            f"{self._message.format(limit=limit)}; retry after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


def _store_failed(exc: Exception) -> None:
    logger.warning("rate-limit store failed: %s", exc, extra={"event": "rate_limit_store_error"})


@dataclass(frozen=True)
class QuotaLimits:
    """The four settings, parsed."""

    requests: list[RateLimitItem]
    auth_failures: list[RateLimitItem]
    logged_bytes: list[RateLimitItem]
    unknown_entities: list[RateLimitItem]


class Quotas:
    """Every quota of the app, over one store (the app opens it at start-up and closes it at shutdown)."""

    def __init__(
        self, limits: QuotaLimits, storage_uri: str, refused: Counter, entity: str, sync_s: float = 0.0
    ) -> None:
        """`sync_s` applies to a shared store (Redis) only: the memory store is asked with no round trip."""
        options: dict[str, Any] = {}
        self._pool: Any = None
        shared = storage_uri.startswith(("redis://", "rediss://"))
        sync_s = sync_s if shared else 0.0
        if shared:
            # Our own pool (redis-py, already a dependency), so the app can close it at shutdown.
            import redis.asyncio

            self._pool = redis.asyncio.ConnectionPool.from_url(storage_uri, socket_timeout=1.0)
            options = {"implementation": "redispy", "connection_pool": self._pool}
        storage = storage_from_string(async_storage_uri(storage_uri), **options)
        sliding, fixed = SlidingWindowCounterRateLimiter(storage), FixedWindowRateLimiter(storage)
        self.requests = Quota(
            "requests", limits.requests, sliding, refused, "rate limit {limit} exceeded for this API key"
        )
        self.auth_failures = Quota(
            "auth-failures",
            limits.auth_failures,
            fixed,
            refused,
            "too many requests without a valid API key from this address (limit {limit})",
            sync_s,
        )
        self.logged_bytes = Quota(
            "logged-bytes",
            limits.logged_bytes,
            fixed,
            refused,
            "logged-bytes quota {limit} exceeded for this API key (bytes of prediction-log and feedback "
            "records it caused)",
            sync_s,
        )
        self.unknown_entities = Quota(
            "unknown-entities",
            limits.unknown_entities,
            fixed,
            refused,
            f"too many predictions for unknown {entity} keys with this API key (limit {{limit}})",
            sync_s,
        )

    async def aclose(self) -> None:
        await self.logged_bytes.flush()
        if self._pool is not None:
            await self._pool.disconnect()

    async def auth_failed(self, address: str) -> None:
        """Charge a 401 to the client address; a line when it passes the limit."""
        if self.auth_failures and not await self.auth_failures.charge(address, 1):
            events.warning(
                "requests without a valid API key passed the limit; this address is refused for a while",
                extra={"event": "auth_failures_exceeded", "address": address},
            )

    async def settle(self, owner: str, usage: Usage) -> None:
        """Charge what an answered request caused to its key's quotas; a line when a key passes its
        unknown-entity limit (a key that walks entity keys to learn which exist)."""
        if usage.logged_bytes and self.logged_bytes:
            await self.logged_bytes.charge_later(owner, usage.logged_bytes)
        if (
            usage.unknown_entities
            and self.unknown_entities
            and not await self.unknown_entities.charge(owner, usage.unknown_entities)
        ):
            events.warning(
                "API key %s passed its limit of predictions for unknown entity keys",
                owner,
                extra={"event": "enumeration_suspected", "client": owner},
            )
