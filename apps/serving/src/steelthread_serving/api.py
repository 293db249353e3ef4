"""HTTP routes. Versioned under `/v1`; every `/v1` route requires an API key."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import APIKeyHeader
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from steelthread_contracts import (
    BatchPredictionRequest,
    BatchPredictionResponse,
    ErrorBody,
    ErrorCode,
    FeedbackAccepted,
    FeedbackRecord,
    ModelInfo,
    PredictionRequest,
    PredictionResponse,
)
from steelthread_contracts.package import Task
from steelthread_serving.auth import API_KEY_HEADER
from steelthread_serving.errors import ApiError
from steelthread_serving.routes import JsonBytesRoute, ServingRoute
from steelthread_serving.state import AppState
from steelthread_serving.usecase import TEXTS, USE_CASE

_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="One of STEELTHREAD_API_KEYS.")
"""Declares the key in the OpenAPI document; the check itself is `auth.authenticate`, which every `/v1`
route's class (routes.py) runs before the body is read."""

INTERNAL_ERROR: dict[int | str, dict[str, object]] = {
    500: {"model": ErrorBody, "description": "Unexpected failure; the server logs it under `request_id`."},
}
JSON_BODY: dict[int | str, dict[str, object]] = {
    415: {"model": ErrorBody, "description": "The body is not JSON (`Content-Type: application/json`)."},
}
"""What the routes with a body answer besides the common errors."""
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Missing, repeated or unknown API key."},
    413: {"model": ErrorBody, "description": "Request body too large."},
    422: {"model": ErrorBody, "description": "Invalid request; `field` names the culprit."},
    **INTERNAL_ERROR,
}


async def app_state(request: Request) -> AppState:
    # Dependencies are `async def` on purpose: FastAPI runs plain `def` dependencies in a worker thread,
    # and two thread hops per request cost more than the whole skeleton answer (measured).
    state: AppState = request.app.state.steelthread
    return state


State = Annotated[AppState, Depends(app_state)]


v1 = APIRouter(
    prefix="/v1", dependencies=[Depends(_api_key)], responses=ERROR_RESPONSES, route_class=ServingRoute
)
ops = APIRouter(responses=INTERNAL_ERROR)


async def predict(body: PredictionRequest, request: Request) -> bytes:
    """The use case's score for one request and the decision that follows (its text in the API document
    is the use case's `texts.predict_description`)."""
    # The service answers JSON bytes in the declared `response_model`'s shape (service.py says why), so
    # nothing re-validates or re-serialises them; the model still documents the contract.
    state: AppState = request.app.state.steelthread
    if body.request_id is not None:  # the answer's id is the request's: the X-Request-ID header says it too
        request.state.request_id = body.request_id
    return await state.service.predict(body, request.state.request_id)


async def predict_batch(body: BatchPredictionRequest, request: Request) -> bytes:
    """Up to `MAX_BATCH_SIZE` requests in one call; each is answered and logged as if sent alone."""
    # Predicted concurrently, so their features are read in one round trip and scored in one model run
    # (batching.py); gather keeps the answers in the items' order.
    state: AppState = request.app.state.steelthread
    items = await asyncio.gather(*(state.service.predict(item) for item in body.items))
    return b'{"items":[%s]}' % b",".join(items)


# Both answer JSON bytes: JsonBytesRoute parses with orjson and validates the body itself (routes.py).
v1.add_api_route(
    "/predictions",
    predict,
    methods=["POST"],
    tags=["predictions"],
    response_model=PredictionResponse,
    description=TEXTS.predict_description,
    responses=JSON_BODY,
    route_class_override=JsonBytesRoute,
)
v1.add_api_route(
    "/predictions/batch",
    predict_batch,
    methods=["POST"],
    tags=["predictions"],
    response_model=BatchPredictionResponse,
    description=TEXTS.batch_description,
    responses=JSON_BODY,
    route_class_override=JsonBytesRoute,
)


@v1.post("/feedback", status_code=202, tags=["feedback"], responses=JSON_BODY)
async def feedback(body: FeedbackRecord, state: State) -> FeedbackAccepted:
    """Record an observed outcome; monitoring joins it with the prediction log by `request_id`."""
    state.feedback.append(body)
    state.metrics.feedback.labels(label=_feedback_label(body.observed_label)).inc()
    return FeedbackAccepted(request_id=body.request_id)


def _feedback_label(label: float | str) -> str:
    """The counter's label: the class (0/1, a class name), or `value` for a regression label, whose values
    would each make a time series of their own."""
    return "value" if USE_CASE.task is Task.REGRESSION else str(label)


@v1.get("/model", tags=["model"])
async def model(state: State) -> ModelInfo:
    """What is serving, in which mode, and why."""
    return state.service.model_info()


@ops.get("/healthz", tags=["ops"])
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. Never checks dependencies (that is readiness)."""
    return {"status": "ok"}


@ops.get(
    "/readyz",
    tags=["ops"],
    responses={503: {"model": ErrorBody, "description": "Not ready to take traffic."}},
)
async def readyz(state: State) -> dict[str, str]:
    """Readiness: the start-up load of models (and their feature store) finished.

    Neither the flag file nor a feature store that is down makes the replica unready: good flags were loaded
    before the server started, a broken flag file later keeps them (and `/v1/model` says why), and a store
    outage answers degraded. Either beats every replica leaving the load balancer at once."""
    if not state.started.is_set():
        raise ApiError(503, ErrorCode.NOT_READY, "loading models")
    return {"status": "ready"}


@ops.get("/metrics", tags=["ops"], response_class=Response)
async def metrics(state: State) -> Response:
    """Prometheus exposition of this process's metrics."""
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
