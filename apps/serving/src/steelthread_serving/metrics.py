"""Prometheus metrics of the serving app, named by Prometheus conventions.

Each app instance owns its registry so tests can build many apps in one process without duplicate
registrations; `/metrics` exposes exactly this registry.

The `steelthread_version_*` series are per routed role (`champion`, `stable`, `fallback`) and model version,
so a canary's numbers are compared with the stable's instead of being pooled with them
(`.github/scripts/canary_check.py`). Their labels stay bounded: three roles, three outcomes, and the
versions this process has loaded.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from steelthread_contracts import ServingMode
from steelthread_serving.flags import FlagProblemKind, FlagState
from steelthread_serving.usecase import SCORE_RANGE

MetricT = TypeVar("MetricT", Counter, Gauge, Histogram)

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
SCORE_BINS = 20


def score_buckets(low: float, high: float, bins: int = SCORE_BINS) -> tuple[float, ...]:
    """Equal-width upper bounds over the use case's score range (fixed bins, so the score shift between
    two versions can be computed from the histograms alone); Prometheus' defaults for an unbounded range."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return Histogram.DEFAULT_BUCKETS
    return tuple(round(low + (high - low) * i / bins, 10) for i in range(1, bins + 1))


SCORE_BUCKETS = score_buckets(*SCORE_RANGE)


class ServingMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[object, ...], Any] = {}
        r = self.registry
        self.http_requests = Counter(
            "steelthread_http_requests",
            "HTTP requests by route template, method and status code.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "steelthread_prediction_latency_seconds",
            "Time to answer one prediction, by serving mode and answering model version.",
            ["mode", "model_version"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "steelthread_predictions",
            "Answered predictions by decision and mode.",
            ["decision", "mode"],
            registry=r,
        )
        self.score = Histogram(
            "steelthread_prediction_score",
            "Answered score (the use case's `score_field`).",
            buckets=SCORE_BUCKETS,
            registry=r,
        )
        self.version_predictions = Counter(
            "steelthread_version_predictions",
            "Predictions by the role they were routed to (champion, stable, fallback), that role's model "
            "version and the outcome: ok (that model answered), model_error (it raised or gave an invalid "
            "score; the fallback answered) or degraded (no usable features or no model; the fallback "
            "answered).",
            ["role", "model_version", "outcome"],
            registry=r,
        )
        self.version_latency = Histogram(
            "steelthread_version_latency_seconds",
            "Time to answer one prediction, by routed role and model version.",
            ["role", "model_version"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.version_score = Histogram(
            "steelthread_version_score",
            "Scores answered by the routed model (outcome ok), by role and model version, in fixed bins "
            "over the use case's score range.",
            ["role", "model_version"],
            buckets=SCORE_BUCKETS,
            registry=r,
        )
        self.model_info = Gauge(
            "steelthread_model_info",
            "1 for each loaded model, labelled by role, name and version.",
            ["role", "name", "version"],
            registry=r,
        )
        self.serving_mode = Gauge(
            "steelthread_serving_mode",
            "1 for the current serving mode, 0 for the others.",
            ["mode"],
            registry=r,
        )
        self.flags_valid = Gauge(
            "steelthread_flags_valid",
            "1 while the flag file is in effect as written; 0 while a problem keeps the last good flags.",
            registry=r,
        )
        self.flag_problems = Counter(
            "steelthread_flag_problems",
            "Flag-file problems detected, counted once when each appears (not per poll), by reason.",
            ["reason"],
            registry=r,
        )
        self.degraded = Counter(
            "steelthread_degraded_predictions",
            "Predictions answered by the fallback because the model could not answer.",
            ["reason"],
            registry=r,
        )
        self.invalid_scores = Counter(
            "steelthread_invalid_scores",
            "NaN, infinite or out-of-range scores produced by a model (never answered).",
            ["model_version"],
            registry=r,
        )
        self.model_refusals = Counter(
            "steelthread_model_refusals",
            "Model packages refused at load time.",
            registry=r,
        )
        self.model_loaded = Gauge(
            "steelthread_model_loaded_timestamp_seconds",
            "When the model in each role was loaded (Unix time).",
            ["role"],
            registry=r,
        )
        self.model_created = Gauge(
            "steelthread_model_created_timestamp_seconds",
            "When the package in each role was trained (its manifest's created_at, Unix time): the model's "
            "age is time() minus this, whenever it was loaded.",
            ["role"],
            registry=r,
        )
        self.feature_batch_size = Histogram(
            "steelthread_feature_batch_size",
            "Requests read and scored together (one store round trip and one model run per batch).",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=r,
        )
        self.quota_refusals = Counter(
            "steelthread_quota_refusals",
            "Requests refused with 429 by quota (quotas.py): requests (a key's rate limit), auth-failures (a "
            "client address's requests without a valid key), logged-bytes (a key's logged-bytes quota), "
            "unknown-entities (a key's predictions for unknown entity keys: enumeration suspected).",
            ["quota"],
            registry=r,
        )
        self.feedback = Counter(
            "steelthread_feedback",
            "Feedback labels received, by observed label.",
            ["label"],
            registry=r,
        )
        self.sink_records = Counter(
            "steelthread_sink_records",
            "Prediction-log and feedback records of the PostgreSQL sink, by outcome: written to the "
            "database, spilled to the local file (database unreachable or queue full), replayed from "
            "that file, rejected by the database (kept in a rejected-* file), dropped (expected to stay 0).",
            ["sink", "outcome"],
            registry=r,
        )
        self.sink_queue = Gauge(
            "steelthread_sink_queue_depth",
            "Records waiting for the PostgreSQL sink's writer.",
            ["sink"],
            registry=r,
        )
        self.sink_connected = Gauge(
            "steelthread_sink_connected",
            "1 while the PostgreSQL sink's connection is up, 0 while records spill.",
            ["sink"],
            registry=r,
        )

    def child(self, metric: MetricT, *label_values: str) -> MetricT:
        """`metric.labels(*label_values)`, looked up once: `labels()` costs microseconds on every request and
        a labelled child never changes, so the hot path keeps them here."""
        key = (id(metric), *label_values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*label_values)
        return found

    def set_mode(self, mode: ServingMode) -> None:
        for candidate in ServingMode:
            self.serving_mode.labels(mode=candidate.value).set(1 if candidate is mode else 0)

    def record_flags(self, state: FlagState, previous: FlagState | None) -> None:
        """A `ServingFlags` listener: the mode in effect, whether the file is, and each new problem once."""
        if previous is None:  # every reason's series exists from the start, so `increase()` sees the first
            for kind in FlagProblemKind:
                self.flag_problems.labels(reason=kind.value)
        self.set_mode(state.mode)
        self.flags_valid.set(0 if state.problems else 1)
        seen = set(previous.problems) if previous else set()
        for problem in state.problems:
            if problem not in seen:
                self.flag_problems.labels(reason=problem.kind.value).inc()
