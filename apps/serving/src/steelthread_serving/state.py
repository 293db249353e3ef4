"""Everything the app builds at start-up and closes at shutdown, in one place."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from steelthread_serving.features import FeastOnlineFeatures
from steelthread_serving.flags import ServingFlags
from steelthread_serving.metrics import ServingMetrics
from steelthread_serving.registry import ModelRegistry
from steelthread_serving.service import PredictionService
from steelthread_serving.settings import ServingSettings
from steelthread_serving.sinks import RecordSink


@dataclass
class AppState:
    settings: ServingSettings
    api_keys: tuple[bytes, ...]
    flags: ServingFlags
    metrics: ServingMetrics
    service: PredictionService
    feedback: RecordSink
    registry: ModelRegistry
    features: FeastOnlineFeatures | None
    started: threading.Event = field(default_factory=threading.Event)

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
        slots = self.registry.slots
        if self.features is not None and not self.features.ready and (slots.champion or slots.challenger):
            self.features.warm()

    def close(self) -> None:
        self.registry.stop()
        self.service.close()
        self.service.log.close()
        self.feedback.close()
        self.flags.close()
