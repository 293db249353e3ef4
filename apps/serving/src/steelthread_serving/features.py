"""Online features for a request, through the shared feature library's direct online reader.

`steelthread_features.online` reads the store Feast materialised without importing Feast (which costs
seconds at start-up and ~1 ms per `get_online_features` call), and runs the same request-time transforms
as training. Any failure of the store (down, slow, unknown customer, missing or stale values) becomes a
`FeatureVector.problem`, never an exception on the request path.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from steelthread_contracts import PredictionRequest
from steelthread_features.definitions import HISTORY_FEATURES, PROFILE_FEATURES, feature_names
from steelthread_features.online import (
    OnlineReader,
    OnlineVector,
    online_vectors,
    online_vectors_async,
    open_reader,
)

if TYPE_CHECKING:
    from prometheus_client import Histogram

    from steelthread_features.settings import FeatureSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureVector:
    values: dict[str, float | None]
    problem: str | None = None
    """`unknown_customer`, `missing_features`, `feature_store_error`, ... or None when complete."""


_Pending = tuple[PredictionRequest, asyncio.Future[FeatureVector]]


class FeatureSource(Protocol):
    def feature_names(self) -> list[str] | None: ...

    async def fetch(self, request: PredictionRequest) -> FeatureVector: ...


class OnlineFeatures:
    """`steelthread_features.online.online_vectors` behind the serving contract."""

    def __init__(self, settings: FeatureSettings, timeout: float, batch_sizes: Histogram) -> None:
        self.batch_sizes = batch_sizes
        self.timeout = timeout
        self.reader: OnlineReader = open_reader(settings, timeout)
        self._pending: list[_Pending] = []
        self._reads: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks

    def warm(self) -> None:
        """Check at start-up that the store answers, so a misconfiguration shows in the log at once; a store
        that is down is only logged (each request retries it and answers degraded meanwhile)."""
        try:
            self.reader.read([0])
        except Exception as exc:
            logger.error("online feature store not available: %s", str(exc).splitlines()[0][:300])

    async def aclose(self) -> None:
        await self.reader.aclose()

    def feature_names(self) -> list[str] | None:
        return feature_names()

    async def fetch(self, request: PredictionRequest) -> FeatureVector:
        """This request's vector, read together with every request that arrived in the same turn of the
        event loop: one store round trip per batch instead of per request. No timer: on an idle server a
        request waits one loop turn, never a batching window."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[FeatureVector] = loop.create_future()
        self._pending.append((request, future))
        if len(self._pending) == 1:
            loop.call_soon(self._read_batch)  # a callback, not a task: ~15 us less per request
        return await future

    def _read_batch(self) -> None:
        batch, self._pending = self._pending, []
        self.batch_sizes.observe(len(batch))
        requests = [request for request, _ in batch]
        if not self.reader.local:
            task = asyncio.get_running_loop().create_task(self._read_remote(batch, requests))
            self._reads.add(task)
            task.add_done_callback(self._reads.discard)
            return
        # A local file read (~50 us), right here on the loop: the connection's busy timeout bounds it
        # (a timer could not interrupt it anyway).
        try:
            vectors = [_checked(vector) for vector in online_vectors(requests, reader=self.reader)]
        except Exception as exc:  # store never materialised, unreadable, ... -> degraded, never a 500
            vectors = _failed(exc, len(batch))
        _deliver(batch, vectors)

    async def _read_remote(self, batch: list[_Pending], requests: list[PredictionRequest]) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                found = await online_vectors_async(requests, reader=self.reader)
            vectors = [_checked(vector) for vector in found]
        except TimeoutError:
            vectors = [FeatureVector(values={}, problem="feature_store_timeout")] * len(batch)
        except Exception as exc:  # redis down, ... -> degraded, never a 500
            vectors = _failed(exc, len(batch))
        _deliver(batch, vectors)


def _failed(exc: Exception, n: int) -> list[FeatureVector]:
    logger.warning("online features failed: %s", str(exc).splitlines()[0][:200])
    return [FeatureVector(values={}, problem="feature_store_error")] * n


def _deliver(batch: list[_Pending], vectors: list[FeatureVector]) -> None:
    for (_, future), vector in zip(batch, vectors, strict=True):
        if not future.done():  # its client went away
            future.set_result(vector)


def _checked(vector: OnlineVector) -> FeatureVector:
    missing = set(vector.missing)
    # A single missing value (e.g. months since a delinquency that never happened) is information the
    # model was trained with; a whole view missing means an unknown customer or expired (stale) data.
    if missing.issuperset(PROFILE_FEATURES):
        return FeatureVector(values=vector.values, problem="unknown_customer")
    if missing.issuperset(HISTORY_FEATURES):
        return FeatureVector(values=vector.values, problem="stale_features")
    return FeatureVector(values=vector.values)
