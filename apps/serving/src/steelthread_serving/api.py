"""HTTP routes. Versioned under `/v1`; every `/v1` route requires an API key."""

from __future__ import annotations

import asyncio
from typing import Annotated

import orjson
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
from steelthread_serving.auth import API_KEY_HEADER, Principal, require
from steelthread_serving.errors import ApiError
from steelthread_serving.quotas import Usage
from steelthread_serving.routes import SCOPE_EXTENSION, JsonBytesRoute, ServingRoute, operation_id
from steelthread_serving.scopes import KeyScope
from steelthread_serving.state import AppState
from steelthread_serving.usecase import TEXTS, USE_CASE

_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="One of STEELTHREAD_API_KEYS.")
"""Declares the key in the OpenAPI document; the check itself is `auth.authenticate`, which every `/v1`
route's class (routes.py) runs before the body is read."""

INTERNAL_ERROR: dict[int | str, dict[str, object]] = {
    500: {"model": ErrorBody, "description": "Unexpected failure; the server logs it under `request_id`."},
}
JSON_BODY: dict[int | str, dict[str, object]] = {
    408: {"model": ErrorBody, "description": "The body did not arrive in time; the connection closes."},
    415: {"model": ErrorBody, "description": "The body is not JSON (`Content-Type: application/json`)."},
}
"""What the routes with a body answer besides the common errors."""
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Missing, repeated or unknown API key."},
    403: {
        "model": ErrorBody,
        "description": "The key lacks the scope the operation (`x-required-scope`) or `explain` needs.",
    },
    413: {"model": ErrorBody, "description": "Request body too large."},
    422: {"model": ErrorBody, "description": "Invalid request; `field` names the culprit."},
    429: {
        "model": ErrorBody,
        "description": (
            "A quota is exhausted (the message names it): the key's rate limit, its logged-bytes quota or "
            "its predictions for unknown entity keys, or the client address's requests without a valid "
            "key; see `Retry-After`."
        ),
        "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    },
    **INTERNAL_ERROR,
}


async def app_state(request: Request) -> AppState:
    # Dependencies are `async def` on purpose: FastAPI runs plain `def` dependencies in a worker thread,
    # and two thread hops per request cost more than the whole skeleton answer (measured).
    state: AppState = request.app.state.steelthread
    return state


State = Annotated[AppState, Depends(app_state)]


v1 = APIRouter(
    prefix="/v1",
    dependencies=[Depends(_api_key)],
    responses=ERROR_RESPONSES,
    route_class=ServingRoute,
    generate_unique_id_function=operation_id,
)
ops = APIRouter(responses=INTERNAL_ERROR, generate_unique_id_function=operation_id)


REPLAYED_HEADER = "Idempotent-Replayed"
PREDICTION_ERRORS: dict[int | str, dict[str, object]] = {
    **JSON_BODY,
    409: {"model": ErrorBody, "description": "The `request_id` was used with another body (idempotency)."},
}


def _scope(needs: KeyScope) -> dict[str, object]:
    """The route's required key scope, checked by its route class and stated in the API document."""
    return {SCOPE_EXTENSION: needs.value}


async def _answer(
    state: AppState, principal: Principal, item: PredictionRequest, usage: Usage
) -> tuple[bytes, bool]:
    """One prediction: the stored answer when its `request_id` was answered in the window (idempotency.py),
    else the service's (counted in `usage`: a replay logs, and so costs, nothing); and whether it was a
    replay."""
    if item.explain:
        require(principal, KeyScope.EXPLAIN, "explain")
    if item.request_id is None:
        return await state.service.predict(item, client=principal.owner, usage=usage), False
    return await state.idempotency.answer(
        principal.owner,
        item.request_id,
        item,
        lambda: state.service.predict(item, client=principal.owner, usage=usage),
    )


async def predict(body: PredictionRequest, request: Request) -> Response:
    """The use case's score for one request and the decision that follows (its text in the API document
    is the use case's `texts.predict_description`)."""
    # The service answers JSON bytes in the declared `response_model`'s shape (service.py says why), so
    # nothing re-validates or re-serialises them; the model still documents the contract.
    state: AppState = request.app.state.steelthread
    principal: Principal = request.state.principal
    usage: Usage = request.state.usage
    if body.explain:
        require(principal, KeyScope.EXPLAIN, "explain")
    if body.request_id is None:  # the answer's id is the HTTP request's (its X-Request-ID header)
        answer = await state.service.predict(
            body, request.state.request_id, client=principal.owner, usage=usage
        )
        return Response(answer, media_type="application/json")
    request.state.request_id = body.request_id
    answer, replayed = await _answer(state, principal, body, usage)
    headers = {REPLAYED_HEADER: "true"} if replayed else None
    return Response(answer, media_type="application/json", headers=headers)


async def predict_batch(body: BatchPredictionRequest, request: Request) -> Response:
    """Up to `MAX_BATCH_SIZE` requests in one call; each is answered and logged as if sent alone."""
    # Predicted concurrently, so their features are read in one round trip and scored in one model run
    # (batching.py); gather keeps the answers in the items' order.
    state: AppState = request.app.state.steelthread
    principal: Principal = request.state.principal
    if any(item.explain for item in body.items):  # refused before any item is answered
        require(principal, KeyScope.EXPLAIN, "explain")
    usage: Usage = request.state.usage
    items = await asyncio.gather(*(_answer(state, principal, item, usage) for item in body.items))
    return Response(b'{"items":[%s]}' % b",".join(a for a, _ in items), media_type="application/json")


# Both answer JSON bytes: JsonBytesRoute parses with orjson and validates the body itself (routes.py).
v1.add_api_route(
    "/predictions",
    predict,
    methods=["POST"],
    tags=["predictions"],
    response_model=PredictionResponse,
    description=TEXTS.predict_description,
    responses=PREDICTION_ERRORS,
    openapi_extra=_scope(KeyScope.PREDICT),
    route_class_override=JsonBytesRoute,
)
v1.add_api_route(
    "/predictions/batch",
    predict_batch,
    methods=["POST"],
    tags=["predictions"],
    response_model=BatchPredictionResponse,
    description=TEXTS.batch_description,
    responses=PREDICTION_ERRORS,
    openapi_extra=_scope(KeyScope.PREDICT),
    route_class_override=JsonBytesRoute,
)


@v1.post(
    "/feedback",
    status_code=202,
    tags=["feedback"],
    responses=JSON_BODY,
    openapi_extra=_scope(KeyScope.FEEDBACK),
)
async def feedback(body: FeedbackRecord, request: Request, state: State) -> FeedbackAccepted:
    """Record an observed outcome; monitoring joins it with the prediction log by `request_id`."""
    principal: Principal = request.state.principal
    # Stored with the key's owner (never the key), so a wrong label can be traced to who sent it.
    record = orjson.dumps(body.model_dump(mode="json") | {"client": principal.owner})
    state.feedback.append_json(record)
    usage: Usage = request.state.usage
    usage.logged_bytes += len(record)
    state.metrics.feedback.labels(label=_feedback_label(body.observed_label)).inc()
    return FeedbackAccepted(request_id=body.request_id)


def _feedback_label(label: float | str) -> str:
    """The counter's label: the class (0/1, a class name), or `value` for a regression label, whose values
    would each make a time series of their own."""
    return "value" if USE_CASE.task is Task.REGRESSION else str(label)


@v1.get("/model", tags=["model"], openapi_extra=_scope(KeyScope.PREDICT))
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
