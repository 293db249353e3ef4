"""Online features for a request, through the shared feature library's direct online reader.

`steelthread_features.online` reads the store Feast materialised without importing Feast (which costs
seconds at start-up and several times the read per `get_online_features` call), and runs the same
request-time transforms as training. Any failure of the store (down, slow, unknown entity key, missing
or stale values) becomes a `FeatureVector.problem`, never an exception on the request path.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from steelthread_contracts import PredictionRequest
from steelthread_contracts.degraded import FEATURE_STORE_ERROR, FEATURE_STORE_TIMEOUT, STALE_FEATURES
from steelthread_features.definitions import USE_CASE, feature_names
from steelthread_features.online import (
    OnlineReader,
    OnlineVector,
    online_vectors,
    online_vectors_async,
    open_reader,
)
from steelthread_serving.usecase import UNKNOWN_ENTITY

if TYPE_CHECKING:
    from steelthread_features.settings import FeatureSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureVector:
    values: dict[str, float | None]
    problem: str | None = None
    """`unknown_<entity>` (`unknown_customer` in the credit example), `stale_features`,
    `feature_store_error`, `feature_store_timeout` (or, from the service, `feature_store_missing`); None
    when complete."""


class OnlineFeatures:
    """`steelthread_features.online` behind the serving contract: every failure becomes a problem."""

    def __init__(self, settings: FeatureSettings, timeout: float) -> None:
        self.timeout = timeout
        self.reader: OnlineReader = open_reader(settings, timeout)

    @property
    def local(self) -> bool:
        """A short local file read (SQLite): `read_now` on the loop beats a timer or a thread hop, and
        the connection's busy timeout bounds it (a timer could not interrupt it anyway)."""
        return self.reader.local

    def warm(self) -> None:
        """Check at start-up that the store answers, so a misconfiguration shows in the log at once; a store
        that is down is only logged (each request retries it and answers degraded meanwhile)."""
        try:
            self.reader.read([0])
        except Exception as exc:
            logger.error(
                "online feature store not available: %s",
                str(exc).splitlines()[0][:300],
                extra={"event": "feature_store_unavailable"},
            )

    async def aclose(self) -> None:
        await self.reader.aclose()

    def feature_names(self) -> list[str] | None:
        return feature_names()

    def read_now(self, requests: list[PredictionRequest]) -> list[FeatureVector]:
        """The requests' vectors, read inline (for a `local` store)."""
        try:
            return [_checked(vector) for vector in online_vectors(requests, reader=self.reader)]
        except Exception as exc:  # store never materialised, unreadable, ... -> degraded, never a 500
            return _failed(exc, len(requests))

    async def read(self, requests: list[PredictionRequest]) -> list[FeatureVector]:
        """The requests' vectors in one round trip, within the timeout (a hung store included)."""
        try:
            async with asyncio.timeout(self.timeout):
                found = await online_vectors_async(requests, reader=self.reader)
            return [_checked(vector) for vector in found]
        except TimeoutError:
            return [FeatureVector(values={}, problem=FEATURE_STORE_TIMEOUT)] * len(requests)
        except Exception as exc:  # redis down, ... -> degraded, never a 500
            return _failed(exc, len(requests))


def _failed(exc: Exception, n: int) -> list[FeatureVector]:
    # Every request meets an outage: the app's IntervalFilter on this logger keeps it to one line per
    # interval, counting the rest (serving's `log_repeat_interval_s`).
    logger.warning(
        "online features failed: %s",
        str(exc).splitlines()[0][:200],
        extra={"event": FEATURE_STORE_ERROR, "reason": FEATURE_STORE_ERROR},
    )
    return [FeatureVector(values={}, problem=FEATURE_STORE_ERROR)] * n


_ENTITY_VIEW, *_OTHER_VIEWS = [frozenset(view.served) for view in USE_CASE.views if view.served]
"""The first view describes the entity itself: all of it missing means an unknown entity; any later view
wholly missing means its data expired (stale)."""


def _checked(vector: OnlineVector) -> FeatureVector:
    missing = set(vector.missing)
    # A single missing value (e.g. months since a delinquency that never happened) is information the
    # model was trained with; a whole view missing means an unknown entity key or expired (stale) data.
    if missing.issuperset(_ENTITY_VIEW):
        return FeatureVector(values=vector.values, problem=UNKNOWN_ENTITY)
    if any(missing.issuperset(view) for view in _OTHER_VIEWS):
        return FeatureVector(values=vector.values, problem=STALE_FEATURES)
    return FeatureVector(values=vector.values)
