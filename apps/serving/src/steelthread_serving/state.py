"""Everything the app builds at start-up and closes at shutdown, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from steelthread_serving.flags import ServingFlags
from steelthread_serving.metrics import ServingMetrics
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

    def close(self) -> None:
        self.service.log.close()
        self.feedback.close()
        self.flags.close()
