"""Online features for a request, through the shared feature library (Feast).

The library is imported lazily and warmed off the request path because `import feast` costs seconds; until
it is warm, a request that needs features is answered by the fallback with a reason. Any failure of the
store (down, slow, unknown customer, missing or stale values) becomes a `FeatureProblem`, never an exception
on the request path.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from steelthread_contracts import PredictionRequest
from steelthread_features.definitions import HISTORY_FEATURES, PROFILE_FEATURES, feature_names

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

    def fetch(self, request: PredictionRequest) -> FeatureVector: ...


class FeastOnlineFeatures:
    """`steelthread_features.online_vector` behind the serving contract."""

    def __init__(self, settings: FeatureSettings | None = None) -> None:
        self._settings = settings
        self._ready = threading.Event()
        self.error: str | None = None

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def warm(self) -> None:
        """Import Feast and open the store once; called from a background thread at start-up."""
        try:
            from steelthread_features.store import get_store, online_vector

            get_store(self._settings)
            # The first lookup pays for lazy imports and connections: pay it here, not in a request.
            online_vector(
                [
                    {
                        "customer_id": 1,
                        "loan_amount": 1.0,
                        "term_months": 12,
                        "purpose": "car",
                        "declared_income": 1.0,
                    }
                ],
                settings=self._settings,
            )
            self._ready.set()
            self.error = None
        except Exception as exc:  # any store problem is reported by readiness, not raised
            self.error = str(exc).splitlines()[0][:300]
            logger.error("feature store not available: %s", self.error)

    def feature_names(self) -> list[str] | None:
        return feature_names()

    def fetch(self, request: PredictionRequest) -> FeatureVector:
        if not self.ready:
            return FeatureVector(values={}, problem="feature_store_loading")
        from steelthread_features.store import online_vector  # cached module after warm()

        try:
            (vector,) = online_vector([request], settings=self._settings)
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
