"""The prediction path: pick the answering model for the mode, score, decide, log.

Kept apart from the HTTP layer so the batch endpoint and the single endpoint share one code path, and so the
registered-model modes can be added without touching routes.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from steelthread_contracts import (
    ModelInfo,
    PredictionLogRecord,
    PredictionRequest,
    PredictionResponse,
    ScoreRecord,
    ServingMode,
)
from steelthread_serving.flags import FlagState, ServingFlags
from steelthread_serving.metrics import ServingMetrics
from steelthread_serving.models import SkeletonModel
from steelthread_serving.routing import champion_answers
from steelthread_serving.sinks import RecordSink

NO_MODEL_REASON = "no_model_loaded"


@dataclass
class PredictionService:
    fallback: SkeletonModel
    flags: ServingFlags
    log: RecordSink
    metrics: ServingMetrics
    _last_mode: ServingMode | None = field(default=None, init=False)

    def flag_state(self) -> FlagState:
        state = self.flags.current()
        if state.mode is not self._last_mode:
            self.metrics.set_mode(state.mode)
            self._last_mode = state.mode
        return state

    def predict(self, request: PredictionRequest) -> PredictionResponse:
        started = time.perf_counter()
        state = self.flag_state()
        request_id = request.request_id or f"req-{uuid.uuid4().hex}"

        # No registered model is loaded yet, so the fallback answers. That is only "degraded" when this
        # request was meant to get the champion's answer (live, or canary and inside the fraction).
        degraded_reason = (
            NO_MODEL_REASON
            if champion_answers(state.mode, state.canary_fraction, request.customer_id)
            else None
        )
        score = self.fallback.predict()
        if not math.isfinite(score):  # pragma: no cover - the constant is validated by settings
            self.metrics.invalid_scores.labels(model_version=self.fallback.version).inc()
        decision = self.fallback.thresholds.decide(score)
        response = PredictionResponse(
            request_id=request_id,
            probability_of_default=score,
            decision=decision,
            model_name=self.fallback.name,
            model_version=self.fallback.version,
            mode=state.mode,
            degraded=degraded_reason is not None,
            degraded_reason=degraded_reason,
            features={} if request.explain else None,
        )
        latency = time.perf_counter() - started
        self.log.append(
            PredictionLogRecord(
                logged_at=datetime.now(UTC),
                request_id=request_id,
                customer_id=request.customer_id,
                model_name=self.fallback.name,
                model_version=self.fallback.version,
                mode=state.mode,
                request=request.model_dump(mode="json", exclude={"request_id", "explain"}),
                score=score,
                decision=decision,
                degraded=response.degraded,
                degraded_reason=degraded_reason,
                scores=[
                    ScoreRecord(
                        model_name=self.fallback.name,
                        model_version=self.fallback.version,
                        role="fallback",
                        score=score,
                    )
                ],
                latency_ms=latency * 1000,
            )
        )
        self.metrics.predictions.labels(decision=decision.value, mode=state.mode.value).inc()
        self.metrics.score.observe(score)
        self.metrics.latency.labels(mode=state.mode.value, model_version=self.fallback.version).observe(
            latency
        )
        if degraded_reason:
            self.metrics.degraded.labels(reason=degraded_reason).inc()
        return response

    def model_info(self) -> ModelInfo:
        state = self.flag_state()
        fallback = self.fallback.describe()
        reason = (
            "skeleton mode: the constant model answers every request"
            if state.mode is ServingMode.SKELETON
            else f"{state.mode.value} mode, but no registered model is loaded: the skeleton answers"
        )
        if state.problem:
            reason += f" ({state.problem})"
        return ModelInfo(
            mode=state.mode,
            canary_fraction=state.canary_fraction,
            champion=fallback,
            challenger=None,
            fallback=fallback,
            last_refused=None,
            reason=reason,
        )
