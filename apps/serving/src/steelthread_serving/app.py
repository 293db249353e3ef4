"""App factory. Importing this module builds nothing; `create_app()` does, and the lifespan opens and closes
the flag provider and the sinks so a SIGTERM flushes every record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from steelthread_contracts.logs import throttle
from steelthread_serving.access_log import AccessLog
from steelthread_serving.api import metrics as metrics_endpoint
from steelthread_serving.api import ops, v1
from steelthread_serving.auth import KeyRing
from steelthread_serving.docs_ui import install_docs
from steelthread_serving.errors import install_error_handlers
from steelthread_serving.features import OnlineFeatures
from steelthread_serving.features import logger as features_logger
from steelthread_serving.flags import ServingFlags
from steelthread_serving.idempotency import IdempotencyStore
from steelthread_serving.metrics import ServingMetrics
from steelthread_serving.middleware import BodyGuard, RequestIds
from steelthread_serving.models import SkeletonModel
from steelthread_serving.quotas import Quotas
from steelthread_serving.quotas import logger as quotas_logger
from steelthread_serving.registry import ModelRegistry
from steelthread_serving.routes import operation_id
from steelthread_serving.service import PredictionService
from steelthread_serving.service import logger as service_logger
from steelthread_serving.settings import ServingSettings
from steelthread_serving.sinks import JsonlSink, RecordSink
from steelthread_serving.state import AppState
from steelthread_serving.usecase import TEXTS, USE_CASE

API_VERSION = "1.0.0"


def build_state(
    settings: ServingSettings, metrics: ServingMetrics, flags: ServingFlags | None = None
) -> AppState:
    flags = flags or ServingFlags(settings.flags_path, settings.flags_poll_ms)
    flags.subscribe(metrics.record_flags)
    fallback = SkeletonModel(score=settings.skeleton_score)
    metrics.model_info.labels(role="fallback", name=fallback.name, version=fallback.version).set(1)
    metrics.model_loaded.labels(role="fallback").set(fallback.loaded_at.timestamp())
    log, feedback = open_sinks(settings, metrics)
    features = online_features(settings) if settings.online_features else None
    registry = ModelRegistry(
        settings.models_dir,
        settings.onnx_providers,
        metrics,
        expected_features=features.feature_names if features else lambda: None,
        champion_alias=settings.champion_alias,
    )
    service = PredictionService(
        fallback=fallback,
        flags=flags,
        log=log,
        metrics=metrics,
        registry=registry,
        features=features,
        log_policy=settings.log_policy(USE_CASE),
    )
    state = AppState(
        settings=settings,
        keys=KeyRing.of_keys(k.get_secret_value() for k in settings.api_keys)
        + KeyRing.of_scoped(settings.scoped_keys()),
        idempotency=IdempotencyStore(settings.idempotency_window_s, settings.idempotency_max_entries),
        quotas=Quotas(
            settings.quota_limits(),
            settings.rate_limit_storage,
            metrics.quota_refusals,
            entity=USE_CASE.entity.name,
            sync_s=settings.quota_sync_ms / 1000,
        ),
        flags=flags,
        metrics=metrics,
        service=service,
        feedback=feedback,
        registry=registry,
        features=features,
    )
    registry.on_swap = state.warm_features_if_needed
    return state


def open_sinks(settings: ServingSettings, metrics: ServingMetrics) -> tuple[RecordSink, RecordSink]:
    """The prediction log and the feedback sinks: PostgreSQL when a DSN is set (psycopg is imported only
    then), JSON-lines files otherwise."""
    if settings.prediction_log_dsn is None:
        return (
            JsonlSink(settings.prediction_log_dir, "predictions", settings.prediction_log_max_bytes),
            JsonlSink(settings.feedback_dir, "feedback", settings.prediction_log_max_bytes),
        )
    from steelthread_serving.pgsink import FEEDBACK, PREDICTIONS, PostgresOptions, PostgresSink

    options = PostgresOptions.from_settings(settings)
    return PostgresSink(PREDICTIONS, options, metrics), PostgresSink(FEEDBACK, options, metrics)


def online_features(settings: ServingSettings) -> OnlineFeatures:
    """The feature library's settings, pinned to this app's data dir and profile so both agree."""
    from steelthread_features.settings import FeatureSettings

    return OnlineFeatures(
        FeatureSettings(
            profile=settings.profile,
            tables_dir=settings.tables_dir,
            feast_dir=settings.feast_dir,
        ),
        timeout=settings.feature_timeout_ms / 1000,
    )


def create_app(
    settings: ServingSettings | None = None,
    *,
    flags: ServingFlags | None = None,
    metrics: ServingMetrics | None = None,
) -> FastAPI:
    """The app. `flags` already opened (the CLI opens them before the server starts, so a bad flag file
    is one line and exit 2) are closed with the app; without, the app opens its own. `metrics` made
    beforehand are the app's (the CLI serves their registry on `STEELTHREAD_METRICS_PORT`)."""
    settings = settings or ServingSettings()
    metrics = metrics or ServingMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = build_state(settings, metrics, flags)
        app.state.steelthread = state
        state.start_background()
        try:
            yield
        finally:
            await state.aclose()

    app = FastAPI(
        title=TEXTS.api_title,
        version=API_VERSION,
        summary=TEXTS.api_description,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
        # FastAPI's native OpenTelemetry looks up the global tracer, meter and logger providers on every
        # request; this app exports its own metrics to Prometheus and installs no OpenTelemetry provider,
        # so the lookups are work for nothing on the route that carries the traffic.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    # The routers' routes go straight into the app's route list, first (the prediction route is matched
    # before the API document's and the docs pages' routes, each a match attempt on every request):
    # FastAPI's `include_router` keeps each router as a node that is matched on every request, a cost on
    # the route that carries the traffic. The routes carry their router's prefix, dependencies and
    # responses already.
    served = [*v1.routes, *ops.routes]
    if settings.metrics_port is not None:  # served on a port of their own (cli.py): 404 on the API's
        served = [r for r in served if getattr(r, "endpoint", None) is not metrics_endpoint]
    app.router.routes[:0] = served
    install_docs(app)
    routes = frozenset(r.path for r in served if hasattr(r, "path"))
    # Added last = outermost: the ids, headers and counts cover every answer the stack gives, the body
    # guard's 413s and 408s included.
    app.add_middleware(BodyGuard, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s)
    app.add_middleware(RequestIds, metrics=metrics, routes=routes)
    if settings.access_log:  # outermost: one line per answer, whatever answered it
        app.add_middleware(AccessLog)
    # Warnings every request meets during an outage (a store down): at most one per interval and kind.
    for noisy in (service_logger, features_logger, quotas_logger):
        throttle(noisy, settings.log_repeat_interval_s)
    return app
