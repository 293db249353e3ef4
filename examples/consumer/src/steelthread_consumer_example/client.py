"""A typed client for the steelthread API, built on the shared contracts.

This is what a consuming application writes on day one: it sends `PredictionRequest`s, gets
`PredictionResponse`s back, and turns error bodies into exceptions that carry the stable `code` and `field`.
The same code keeps working when the server moves from the skeleton to the registered model.

A consuming application is written against one service's contract, so the models are the credit example's
API (`API_USE_CASE`, derived from its declaration through the registry), whatever `STEELTHREAD_USECASE` says
in the client's own environment: the variable chooses what a steelthread process serves, not what this
client speaks. The server it calls must run the same use case.
"""

from __future__ import annotations

from types import TracebackType
from typing import Final

import httpx
from pydantic import ValidationError

from steelthread_contracts import ErrorBody, FeedbackAccepted, ModelInfo
from steelthread_contracts.api import (
    BatchPredictionResponseBase,
    FeedbackRecordBase,
    PredictionRequestBase,
    PredictionResponseBase,
)
from steelthread_contracts.requests import ApiModels, api_models

API_USE_CASE: Final = "credit"
"""The use case whose v1 API this client calls (its requests.json is that use case's data)."""


def credit_api() -> ApiModels:
    """The request, answer and feedback models of the API this client calls (built once)."""
    return api_models(API_USE_CASE)


class ApiError(Exception):
    """The server refused the call; `code` and `field` come from its error body."""

    def __init__(self, status: int, body: ErrorBody) -> None:
        super().__init__(f"{status} {body.code.value}: {body.message}")
        self.status = status
        self.code = body.code
        self.field = body.field


class ApiClient:
    """The v1 API of the credit example (`models`, default `credit_api()`)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float = 2.0,
        transport: httpx.BaseTransport | None = None,
        models: ApiModels | None = None,
    ) -> None:
        self.models = models or credit_api()
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

    def _post(self, path: str, payload: str) -> httpx.Response:
        response = self._http.post(path, content=payload, headers={"content-type": "application/json"})
        self._raise_for_error(response)
        return response

    @staticmethod
    def _raise_for_error(response: httpx.Response) -> None:
        if response.is_success:
            return
        try:
            body = ErrorBody.model_validate_json(response.content)
        except ValidationError:
            response.raise_for_status()
            raise
        raise ApiError(response.status_code, body)

    def predict(self, request: PredictionRequestBase) -> PredictionResponseBase:
        response = self._post("/v1/predictions", request.model_dump_json(exclude_none=True))
        return self.models.response.model_validate_json(response.content)

    def predict_batch(self, requests: list[PredictionRequestBase]) -> BatchPredictionResponseBase:
        body = self.models.batch_request(items=requests).model_dump_json(exclude_none=True)
        content = self._post("/v1/predictions/batch", body).content
        return self.models.batch_response.model_validate_json(content)

    def send_feedback(self, record: FeedbackRecordBase) -> FeedbackAccepted:
        response = self._post("/v1/feedback", record.model_dump_json())
        return FeedbackAccepted.model_validate_json(response.content)

    def model(self) -> ModelInfo:
        response = self._http.get("/v1/model")
        self._raise_for_error(response)
        return ModelInfo.model_validate_json(response.content)
