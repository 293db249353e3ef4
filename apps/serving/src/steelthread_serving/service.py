"""The prediction path: fetch features, score with every model the mode asks for, answer, log.

Kept apart from the HTTP layer so the batch endpoint and the single endpoint share one code path. Whatever
goes wrong on the way to the registered model (no model, feature store down or slow, unknown entity key,
a NaN score), the request is still answered by the fallback with `degraded: true` and a reason, and still
logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from steelthread_contracts import (
    PREDICTION_LOG_SCHEMA_VERSION,
    ModelInfo,
    PredictionRequest,
    ServingMode,
)
from steelthread_contracts.decision import DecisionPolicy, decide, decided_by
from steelthread_contracts.degraded import FEATURE_STORE_MISSING, MODEL_ERROR_REASON, NO_MODEL_REASON
from steelthread_contracts.privacy import NO_POLICY, LogPolicy
from steelthread_serving.batching import Models, ScoringBatcher
from steelthread_serving.explain import explanation_for
from steelthread_serving.features import FeatureVector, OnlineFeatures
from steelthread_serving.flags import FlagState, ServingFlags
from steelthread_serving.metrics import ServingMetrics
from steelthread_serving.middleware import new_request_id
from steelthread_serving.models import SkeletonModel
from steelthread_serving.package import OnnxModel
from steelthread_serving.quotas import Usage
from steelthread_serving.registry import ModelRegistry, Slots
from steelthread_serving.routing import Route, champion_scores, route, scores_anything
from steelthread_serving.scoring import ScoreEntry
from steelthread_serving.sinks import RecordSink
from steelthread_serving.usecase import (
    JOIN_KEY,
    LOGGED_REQUEST_FIELDS,
    SCORE_FIELD,
    UNKNOWN_ENTITY,
    USE_CASE,
)

logger = logging.getLogger(__name__)

OK, MODEL_ERROR, DEGRADED = "ok", "model_error", "degraded"
"""The `outcome` label of `steelthread_version_predictions`: the routed model answered, it failed (raised
or an invalid score), or it could not be asked (no usable features, no model)."""
EMPTY = Slots()


def routed_model(slots: Slots, routed: Route) -> OnnxModel | None:
    """The loaded model of the role a request is routed to (none for the fallback)."""
    if routed is Route.CHAMPION:
        return slots.champion
    if routed is Route.STABLE:
        return slots.stable
    return None


@dataclass
class PredictionService:
    fallback: SkeletonModel
    flags: ServingFlags
    log: RecordSink
    metrics: ServingMetrics
    registry: ModelRegistry | None = None
    features: OnlineFeatures | None = None
    policy: DecisionPolicy = USE_CASE.policy
    log_policy: LogPolicy = NO_POLICY
    """What the log and `explain` keep of personal fields (steelthread_contracts.privacy)."""
    _batcher: ScoringBatcher | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._fallback_score = ScoreEntry(
            model_name=self.fallback.name,
            model_version=self.fallback.version,
            role="fallback",
            score=self.fallback.predict(),
            error=None,
        )
        if self.features is not None:
            self._batcher = ScoringBatcher(self.features, self.metrics)

    def flag_state(self) -> FlagState:
        return self.flags.current()

    async def predict(
        self,
        request: PredictionRequest,
        request_id: str | None = None,
        client: str | None = None,
        usage: Usage | None = None,
    ) -> bytes:
        """The answer as JSON in `PredictionResponse`'s shape, built as a plain dict and serialised once
        with orjson: building the pydantic model (even unvalidated) and serialising it were ~3-4 % of the
        server's CPU in py-spy profiles. The tests validate answers against the contract. Its id is the
        request's own, else `request_id` (the HTTP request's), else a new one; `client` (the API key's owner)
        is logged with it, and `usage` counts the record's bytes and an unknown entity key (charged to the
        key's quotas)."""
        started = time.perf_counter()
        state = self.flag_state()
        request_id = request.request_id or request_id or new_request_id()
        slots = self.registry.slots if self.registry is not None else EMPTY
        key = getattr(request, JOIN_KEY)
        routed = route(state.mode, state.canary_fraction, key, slots.stable is not None)
        target = routed_model(slots, routed)

        models: Models = ()
        if slots.champion is not None and champion_scores(state.mode, routed):
            models += (("champion", slots.champion),)
        if routed is Route.STABLE and target is not None:
            models += (("stable", target),)
        if slots.challenger is not None and scores_anything(state.mode):
            models += (("challenger", slots.challenger),)
        vector = FeatureVector(values={})
        scores: list[ScoreEntry] = []
        scored: dict[str, ScoreEntry] = {}
        if models:
            if self._batcher is not None:
                vector, scored = await self._batcher.score(request, models)
                scores = [scored[role] for role, _ in models if role in scored]
            else:
                vector = FeatureVector(values={}, problem=FEATURE_STORE_MISSING)

        degraded_reason: str | None = None
        outcome = OK
        answering: OnnxModel | SkeletonModel = self.fallback
        score = self.fallback.predict()
        if routed is not Route.FALLBACK:
            entry = scored.get(routed.value)
            if target is None:
                degraded_reason, outcome = NO_MODEL_REASON, DEGRADED
            elif vector.problem is not None:
                degraded_reason, outcome = vector.problem, DEGRADED
            elif entry is None or entry["score"] is None:
                error = entry["error"] if entry is not None else None
                degraded_reason, outcome = (error or MODEL_ERROR_REASON).split(":")[0], MODEL_ERROR
            else:
                answering, score = target, entry["score"]
        scores.append(self._fallback_score)
        decision = decide(score, answering.thresholds, self.policy)
        source = decided_by(score, answering.thresholds, self.policy)
        explained = vector.values
        answer = {
            "request_id": request_id,
            SCORE_FIELD: score,
            "decision": decision.value,
            "decided_by": source.value,
            "model_name": answering.name,
            "model_version": answering.version,
            "mode": state.mode.value,
            "degraded": degraded_reason is not None,
            "degraded_reason": degraded_reason,
            "features": self.log_policy.keep(explained) if request.explain else None,
            "explanation": explanation_for(answering, explained, decision, source)
            if request.explain
            else None,
        }
        stored_key = self.log_policy.key(key)
        latency = time.perf_counter() - started
        # The record is a plain dict in PredictionLogRecord's shape (the tests validate logged lines against
        # the contract): a pydantic model per record costs as much as the skeleton's whole answer.
        record = orjson.dumps(
            {
                "schema_version": PREDICTION_LOG_SCHEMA_VERSION,
                "logged_at": datetime.now(UTC),
                "request_id": request_id,
                "entity_key": stored_key,
                "source": "online",
                "model_name": answering.name,
                "model_version": answering.version,
                "mode": state.mode.value,
                "request": self.log_policy.request(
                    {name: getattr(request, name) for name in LOGGED_REQUEST_FIELDS}, JOIN_KEY, stored_key
                ),
                "features": self.log_policy.keep(explained),
                "score": score,
                "decision": decision.value,
                "decided_by": source.value,
                "degraded": degraded_reason is not None,
                "degraded_reason": degraded_reason,
                "scores": scores,
                "latency_ms": latency * 1000,
                "client": client,
            },
            option=orjson.OPT_UTC_Z,
        )
        self.log.append_json(record)
        if usage is not None:
            usage.logged_bytes += len(record)
            if degraded_reason == UNKNOWN_ENTITY:
                usage.unknown_entities += 1
        mode = state.mode.value
        m = self.metrics
        m.child(m.predictions, decision.value, mode).inc()
        m.score.observe(score)
        m.child(m.latency, mode, answering.version).observe(latency)
        if degraded_reason:
            m.child(m.degraded, degraded_reason).inc()
            # One line per reason and interval (the app's IntervalFilter on this logger), not per request.
            logger.warning(
                "degraded answer: %s",
                degraded_reason,
                extra={
                    "event": "degraded",
                    "reason": degraded_reason,
                    "request_id": request_id,
                    "mode": mode,
                    "model_version": answering.version,
                },
            )
        # Per routed role and version: the canary's numbers apart from the stable's (and the fallback's).
        routed_version = (target or self.fallback).version
        m.child(m.version_predictions, routed.value, routed_version, outcome).inc()
        m.child(m.version_latency, routed.value, routed_version).observe(latency)
        if outcome == OK:
            m.child(m.version_score, routed.value, routed_version).observe(score)
        return orjson.dumps(answer)

    def model_info(self) -> ModelInfo:
        state = self.flag_state()
        fallback = self.fallback.describe()
        slots = self.registry.slots if self.registry is not None else EMPTY
        champion, challenger, stable = slots.champion, slots.challenger, slots.stable
        if stable is not None:
            others = f"stable {stable.name}:{stable.version} (the previous champion)"
        else:
            others = "the skeleton (no stable: no champion came before this one)"
        if state.mode is ServingMode.SKELETON:
            reason = "skeleton mode: the constant model answers every request"
        elif champion is None and (stable is None or state.mode is ServingMode.LIVE):
            reason = f"{state.mode.value} mode, but no registered model is loaded: the skeleton answers"
        elif champion is None:
            reason = f"{state.mode.value} mode, no champion loaded: outside the canary {others} answers"
        elif state.mode is ServingMode.SHADOW:
            reason = f"shadow mode: {champion.name}:{champion.version} scores and is logged; {others} answers"
        elif state.mode is ServingMode.CANARY:
            reason = (
                f"canary mode: {state.canary_fraction:.0%} of {JOIN_KEY} values get "
                f"{champion.name}:{champion.version}, the rest {others}"
            )
        else:
            reason = f"live mode: {champion.name}:{champion.version} answers"
        if challenger is not None and state.mode is not ServingMode.SKELETON:
            reason += f"; challenger {challenger.name}:{challenger.version} shadows"
        if state.problem:
            reason += f" (last good flags kept: {state.problem})"
        return ModelInfo(
            mode=state.mode,
            canary_fraction=state.canary_fraction,
            champion=champion.describe() if champion else fallback,
            challenger=challenger.describe() if challenger else None,
            stable=stable.describe() if stable else None,
            fallback=fallback,
            last_refused=self.registry.last_refused if self.registry else None,
            reason=reason,
            flags_problem=state.problem,
        )

    def close(self) -> None:
        self.log.close()
