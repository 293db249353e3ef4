"""A typed client for the steelthread API, built on the shared contracts.

This is what a consuming application writes on day one: it sends `PredictionRequest`s, gets
`PredictionResponse`s back, and turns error bodies into exceptions that carry the stable `code` and `field`.
The same code keeps working when the server moves from the skeleton to the registered model.
"""

from __future__ import annotations

from types import TracebackType

import httpx
from pydantic import ValidationError

from steelthread_contracts import (
    BatchPredictionRequest,
    BatchPredictionResponse,
    ErrorBody,
    FeedbackAccepted,
    FeedbackRecord,
    ModelInfo,
    PredictionRequest,
    PredictionResponse,
)


class ApiError(Exception):
    """The server refused the call; `code` and `field` come from its error body."""

    def __init__(self, status: int, body: ErrorBody) -> None:
        super().__init__(f"{status} {body.code.value}: {body.message}")
        self.status = status
        self.code = body.code
        self.field = body.field


class ApiClient:
    """The v1 API of whichever use case the server runs; the models are the active use case's."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float = 2.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
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

    def predict(self, request: PredictionRequest) -> PredictionResponse:
        response = self._post("/v1/predictions", request.model_dump_json(exclude_none=True))
        return PredictionResponse.model_validate_json(response.content)

    def predict_batch(self, requests: list[PredictionRequest]) -> BatchPredictionResponse:
        body = BatchPredictionRequest(items=requests).model_dump_json(exclude_none=True)
        return BatchPredictionResponse.model_validate_json(self._post("/v1/predictions/batch", body).content)

    def send_feedback(self, record: FeedbackRecord) -> FeedbackAccepted:
        response = self._post("/v1/feedback", record.model_dump_json())
        return FeedbackAccepted.model_validate_json(response.content)

    def model(self) -> ModelInfo:
        response = self._http.get("/v1/model")
        self._raise_for_error(response)
        return ModelInfo.model_validate_json(response.content)
