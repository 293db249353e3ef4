"""Per-key rate limits: past its quota a key gets 429 with `Retry-After`, before its body is read.

The counting is the `limits` library's (a sliding-window counter per key owner and limit), in this
replica's memory by default or in Redis (`STEELTHREAD_RATE_LIMIT_STORAGE=redis://...`) so that every
replica counts against the same quota. `STEELTHREAD_RATE_LIMIT` is in the library's notation, several
limits separated by `;` (`100/second;5000/minute`); empty turns quotas off. When the store fails (Redis
down), requests are let through and the failure is logged: a quota store must not take the API down.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from limits import RateLimitItem, parse_many
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from steelthread_contracts import ErrorCode
from steelthread_serving.errors import ApiError

logger = logging.getLogger(__name__)


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


class Quotas:
    def __init__(self, limits: list[RateLimitItem], storage_uri: str) -> None:
        self.limits = limits
        options: dict[str, Any] = {}
        self._pool: Any = None
        if storage_uri.startswith(("redis://", "rediss://")):
            # Our own pool (redis-py, already a dependency), so the app can close it at shutdown.
            import redis.asyncio

            self._pool = redis.asyncio.ConnectionPool.from_url(storage_uri, socket_timeout=1.0)
            options = {"implementation": "redispy", "connection_pool": self._pool}
        storage = storage_from_string(async_storage_uri(storage_uri), **options)
        self._limiter = SlidingWindowCounterRateLimiter(storage)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.disconnect()

    async def check(self, owner: str) -> None:
        """Count one request of `owner`; the 429 when one of its limits is exhausted."""
        for limit in self.limits:
            try:
                allowed = await self._limiter.hit(limit, owner)
                if allowed:
                    continue
                stats = await self._limiter.get_window_stats(limit, owner)
            except Exception as exc:  # the store, not the caller, failed: let the request through
                logger.warning("rate-limit store failed: %s", exc, extra={"event": "rate_limit_store_error"})
                return
            retry_after = max(1, math.ceil(stats.reset_time - time.time()))
            raise ApiError(
                429,
                ErrorCode.RATE_LIMITED,
                f"rate limit {limit} exceeded for this API key; retry after {retry_after} s",
                headers={"Retry-After": str(retry_after)},
            )
