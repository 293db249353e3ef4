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
from steelthread_features.online import OnlineReader, online_vectors_async, open_reader

if TYPE_CHECKING:
    from steelthread_features.settings import FeatureSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureVector:
    values: dict[str, float | None]
    problem: str | None = None
    """`unknown_customer`, `missing_features`, `feature_store_error`, ... or None when complete."""


class FeatureSource(Protocol):
    @property
    def ready(self) -> bool: ...

    def feature_names(self) -> list[str] | None: ...

    async def fetch(self, request: PredictionRequest) -> FeatureVector: ...


class OnlineFeatures:
    """`steelthread_features.online.online_vectors` behind the serving contract."""

    def __init__(self, settings: FeatureSettings, timeout: float) -> None:
        self.settings = settings
        self.timeout = timeout
        self.reader: OnlineReader = open_reader(settings, timeout)
        self.error: str | None = None

    @property
    def ready(self) -> bool:
        return True  # nothing to load: the reader connects on first use and reconnects after failures

    def warm(self) -> None:
        """Open the connection before the first request does; a store that is down is only logged (each
        request retries it and answers degraded meanwhile)."""
        try:
            self.reader.read([0])
            self.error = None
        except Exception as exc:
            self.error = str(exc).splitlines()[0][:300]
            logger.error("online feature store not available: %s", self.error)

    async def aclose(self) -> None:
        await self.reader.aclose()

    def feature_names(self) -> list[str] | None:
        return feature_names()

    async def fetch(self, request: PredictionRequest) -> FeatureVector:
        try:
            async with asyncio.timeout(self.timeout):
                (vector,) = await online_vectors_async([request], reader=self.reader)
        except TimeoutError:
            return FeatureVector(values={}, problem="feature_store_timeout")
        except Exception as exc:  # redis down, registry gone, ... -> degraded, never a 500
            logger.warning("online features failed: %s", str(exc).splitlines()[0][:200])
            return FeatureVector(values={}, problem="feature_store_error")
        missing = set(vector.missing)
        # A single missing value (e.g. months since a delinquency that never happened) is information the
        # model was trained with; a whole view missing means an unknown customer or expired (stale) data.
        if missing.issuperset(PROFILE_FEATURES):
            return FeatureVector(values=vector.values, problem="unknown_customer")
        if missing.issuperset(HISTORY_FEATURES):
            return FeatureVector(values=vector.values, problem="stale_features")
        return FeatureVector(values=vector.values)
