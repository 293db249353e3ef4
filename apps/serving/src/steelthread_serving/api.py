"""HTTP routes. Versioned under `/v1`; every `/v1` route requires an API key."""

from __future__ import annotations

import asyncio
import hmac
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
from steelthread_serving.errors import ApiError
from steelthread_serving.state import AppState
from steelthread_serving.usecase import TEXTS, USE_CASE

API_KEY_HEADER = "X-API-Key"
_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="One of STEELTHREAD_API_KEYS.")

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Missing or unknown API key."},
    413: {"model": ErrorBody, "description": "Request body too large."},
    422: {"model": ErrorBody, "description": "Invalid request; `field` names the culprit."},
}


async def app_state(request: Request) -> AppState:
    # Dependencies are `async def` on purpose: FastAPI runs plain `def` dependencies in a worker thread,
    # and two thread hops per request cost more than the whole skeleton answer (measured).
    state: AppState = request.app.state.steelthread
    return state


State = Annotated[AppState, Depends(app_state)]


async def require_api_key(state: State, key: Annotated[str | None, Depends(_api_key)] = None) -> None:
    """Compare against every configured key in constant time, so timing reveals nothing."""
    if key is None:
        raise ApiError(401, ErrorCode.UNAUTHORIZED, f"missing {API_KEY_HEADER} header", API_KEY_HEADER)
    supplied = key.encode()
    matched = False
    for candidate in state.api_keys:
        matched |= hmac.compare_digest(supplied, candidate)
    if not matched:
        raise ApiError(401, ErrorCode.UNAUTHORIZED, "unknown API key", API_KEY_HEADER)


v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)], responses=ERROR_RESPONSES)
ops = APIRouter()


@v1.post(
    "/predictions",
    tags=["predictions"],
    response_model=PredictionResponse,
    description=TEXTS.predict_description,
)
async def predict(body: PredictionRequest, state: State) -> Response:
    """The use case's score for one request and the decision that follows (its text in the API document
    is the use case's `texts.predict_description`)."""
    # The service answers JSON bytes in the declared `response_model`'s shape (service.py says why), so
    # FastAPI neither re-validates nor re-serialises them; the model still documents the contract.
    # Valid, authorised requests are answered by `hotpath.PredictionHotPath` before they get here; this
    # route declares the contract, renders every error, and answers all when the hot path is off.
    return Response(content=await state.service.predict(body), media_type="application/json")


@v1.post(
    "/predictions/batch",
    tags=["predictions"],
    response_model=BatchPredictionResponse,
    description=TEXTS.batch_description,
)
async def predict_batch(body: BatchPredictionRequest, state: State) -> Response:
    """Up to `MAX_BATCH_SIZE` requests in one call; each is answered and logged as if sent alone."""
    # Predicted concurrently, so their features are read in one round trip and scored in one model run
    # (batching.py); gather keeps the answers in the items' order.
    items = await asyncio.gather(*(state.service.predict(item) for item in body.items))
    return Response(content=b'{"items":[%s]}' % b",".join(items), media_type="application/json")


@v1.post("/feedback", status_code=202, tags=["feedback"])
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
