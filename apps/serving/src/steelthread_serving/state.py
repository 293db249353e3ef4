"""Everything the app builds at start-up and closes at shutdown, in one place."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from steelthread_serving.auth import KeyRing
from steelthread_serving.features import OnlineFeatures
from steelthread_serving.flags import ServingFlags
from steelthread_serving.idempotency import IdempotencyStore
from steelthread_serving.metrics import ServingMetrics
from steelthread_serving.quotas import Quotas
from steelthread_serving.registry import ModelRegistry
from steelthread_serving.service import PredictionService
from steelthread_serving.settings import ServingSettings
from steelthread_serving.sinks import RecordSink


@dataclass
class AppState:
    settings: ServingSettings
    keys: KeyRing
    idempotency: IdempotencyStore
    quotas: Quotas
    flags: ServingFlags
    metrics: ServingMetrics
    service: PredictionService
    feedback: RecordSink
    registry: ModelRegistry
    features: OnlineFeatures | None
    started: threading.Event = field(default_factory=threading.Event)
    _features_warmed: bool = field(default=False, init=False)

    def start_background(self) -> None:
        """Load models (and, only when a model needs them, the feature store) off the event loop, then
        keep watching the deployment location."""

        def run() -> None:
            try:
                self.registry.refresh()
                self.warm_features_if_needed()
            finally:
                self.started.set()
            self.registry.start(self.settings.model_poll_ms / 1000)

        threading.Thread(target=run, name="serving-startup", daemon=True).start()

    def warm_features_if_needed(self) -> None:
        """Connect to the online store once a model needs it (a skeleton-only replica never does)."""
        slots = self.registry.slots
        if self.features is not None and not self._features_warmed and (slots.champion or slots.challenger):
            self._features_warmed = True
            self.features.warm()

    async def aclose(self) -> None:
        """Close everything, from the event loop (the online store's asyncio connections live there)."""
        self.registry.stop()
        self.service.close()
        self.feedback.close()
        self.flags.close()
        await self.quotas.aclose()
        if self.features is not None:
            await self.features.aclose()
