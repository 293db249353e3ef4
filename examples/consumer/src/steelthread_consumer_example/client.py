"""A typed client for the steelthread API, built on the shared contracts.

This is what a consuming application writes on day one: it sends `PredictionRequest`s, gets
`PredictionResponse`s back, and turns error bodies into exceptions that carry the stable `code` and `field`.
The same code keeps working when the server moves from the skeleton to the registered model, and when a
newer server adds fields or enum values to its answers (tolerant.py). Idempotent calls (reading the model,
a prediction whose every request carries its `request_id`) are retried with exponential backoff and jitter
(tenacity) on a transport error, 429 or a 502/503/504, waiting at least the server's `Retry-After`.

A consuming application is written against one service's contract, so the models are the credit example's
API (`API_USE_CASE`, derived from its declaration through the registry), whatever `STEELTHREAD_USECASE` says
in the client's own environment: the variable chooses what a steelthread process serves, not what this
client speaks. The server it calls must run the same use case.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from types import TracebackType
from typing import Final

import httpx
from pydantic import ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from steelthread_consumer_example.tolerant import Fallbacks, read
from steelthread_contracts import ErrorBody, ErrorCode, FeedbackAccepted, ModelInfo, ServingMode
from steelthread_contracts.api import (
    BatchPredictionResponseBase,
    DecisionSource,
    FeedbackRecordBase,
    PredictionRequestBase,
    PredictionResponseBase,
)
from steelthread_contracts.requests import ApiModels, api_models

RETRIED_STATUSES: Final = frozenset({429, 502, 503, 504})
"""Answers worth another try: rate limited, or the server (or a proxy before it) briefly unavailable."""
MAX_RETRY_AFTER_S: Final = 30.0

API_USE_CASE: Final = "credit"
"""The use case whose v1 API this client calls (its requests.json is that use case's data)."""


def credit_api() -> ApiModels:
    """The request, answer and feedback models of the API this client calls (built once)."""
    return api_models(API_USE_CASE)


class ApiError(Exception):
    """The server refused the call; `code` and `field` come from its error body."""

    def __init__(self, status: int, body: ErrorBody, retry_after: float | None = None) -> None:
        super().__init__(f"{status} {body.code.value}: {body.message}")
        self.status = status
        self.code = body.code
        self.field = body.field
        self.request_id = body.request_id
        self.retry_after = retry_after


def fallbacks(models: ApiModels) -> Fallbacks:
    """What an enum value this client does not know is read as (tolerant.py says why)."""
    table: dict[type[Enum], Enum] = {
        DecisionSource: DecisionSource.FALLBACK,
        ServingMode: ServingMode.SKELETON,
        ErrorCode: ErrorCode.INTERNAL_ERROR,
    }
    table[type(models.use_case.policy.fallback)] = models.use_case.policy.fallback
    return table


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, ApiError):
        return exc.status in RETRIED_STATUSES
    return isinstance(exc, httpx.TransportError)


def _retry_after(header: str | None) -> float | None:
    try:
        return min(float(header), MAX_RETRY_AFTER_S) if header else None
    except ValueError:  # an HTTP date: the backoff decides
        return None


class ApiClient:
    """The v1 API of the credit example (`models`, default `credit_api()`)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float = 2.0,
        transport: httpx.BaseTransport | None = None,
        models: ApiModels | None = None,
        attempts: int = 3,
        backoff_s: float = 0.2,
    ) -> None:
        self.models = models or credit_api()
        self.fallbacks = fallbacks(self.models)
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._http = httpx.Client(
            base_url=base_url,
            headers={"X-API-Key": api_key},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_exponential_jitter(self.backoff_s, MAX_RETRY_AFTER_S, jitter=self.backoff_s)(state)
        exc = state.outcome.exception() if state.outcome else None
        retry_after = exc.retry_after if isinstance(exc, ApiError) else None
        return max(backoff, retry_after or 0.0)

    def _call(self, send: Callable[[], httpx.Response], idempotent: bool) -> httpx.Response:
        """`send`, its error body raised as `ApiError`; retried while transient when `idempotent`."""

        def once() -> httpx.Response:
            response = send()
            self._raise_for_error(response)
            return response

        if not idempotent:
            return once()
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception(_transient),
            reraise=True,
        )
        return retrying(once)

    def _post(self, path: str, payload: str, idempotent: bool) -> httpx.Response:
        headers = {"content-type": "application/json"}
        return self._call(lambda: self._http.post(path, content=payload, headers=headers), idempotent)

    def _raise_for_error(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        try:
            body = read(ErrorBody, response.content, self.fallbacks)
        except (ValidationError, ValueError):
            response.raise_for_status()
            raise
        raise ApiError(response.status_code, body, _retry_after(response.headers.get("retry-after")))

    def predict(self, request: PredictionRequestBase) -> PredictionResponseBase:
        payload = request.model_dump_json(exclude_none=True)
        response = self._post("/v1/predictions", payload, idempotent=request.request_id is not None)
        return read(self.models.response, response.content, self.fallbacks)

    def predict_batch(self, requests: list[PredictionRequestBase]) -> BatchPredictionResponseBase:
        body = self.models.batch_request(items=requests).model_dump_json(exclude_none=True)
        idempotent = all(r.request_id is not None for r in requests)
        content = self._post("/v1/predictions/batch", body, idempotent).content
        return read(self.models.batch_response, content, self.fallbacks)

    def send_feedback(self, record: FeedbackRecordBase) -> FeedbackAccepted:
        response = self._post("/v1/feedback", record.model_dump_json(), idempotent=False)
        return read(FeedbackAccepted, response.content, self.fallbacks)

    def model(self) -> ModelInfo:
        response = self._call(lambda: self._http.get("/v1/model"), idempotent=True)
        return read(ModelInfo, response.content, self.fallbacks)
