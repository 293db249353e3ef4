"""One JSON error shape for every failure, so clients handle errors by `code`, not by parsing text."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from steelthread_contracts import ErrorBody, ErrorCode
from steelthread_serving.middleware import answer_headers, request_id

logger = logging.getLogger(__name__)

INTERNAL_ERROR_MESSAGE = "internal error; see server logs"
MAX_NAME_CHARS = 64
"""Longest field name an error repeats: a client chooses unknown names, and an echo of a huge one would
make the error as large as the request."""

STATUS_CODES: dict[int, ErrorCode] = {
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    408: ErrorCode.REQUEST_TIMEOUT,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    429: ErrorCode.RATE_LIMITED,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    422: ErrorCode.VALIDATION_ERROR,
    503: ErrorCode.NOT_READY,
}


class ApiError(Exception):
    """Raised by handlers for an answer other than success; rendered as an `ErrorBody`."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(code=code, message=message, field=field)
        self.headers = headers


def error_response(
    request: Request,
    status: int,
    code: ErrorCode,
    message: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The error answer, with the request's id in the body (the header carries it too)."""
    body = ErrorBody(code=code, message=message, field=field, request_id=request_id(request.scope))
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"), headers=headers)


def _name(part: object) -> str:
    text = str(part)
    return text if len(text) <= MAX_NAME_CHARS else f"{text[:MAX_NAME_CHARS]}..."


def _field_path(loc: Sequence[Any]) -> str | None:
    parts = [_name(p) for p in loc if p not in ("body", "query", "header", "path")]
    return ".".join(parts) or None


def _validation_message(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        return "request body is not valid JSON"
    field = _field_path(error.get("loc", ()))
    msg = str(error.get("msg", "invalid value"))
    return f"{field}: {msg}" if field else msg


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first = errors[0] if errors else {}
    message = _validation_message(first)
    field = None if first.get("type") == "json_invalid" else _field_path(first.get("loc", ()))
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return error_response(request, 422, ErrorCode.VALIDATION_ERROR, message, field)


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    body = exc.body.model_copy(update={"request_id": request_id(request.scope)})
    return JSONResponse(status_code=exc.status, content=body.model_dump(mode="json"), headers=exc.headers)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI answers 400 for a body it cannot even decode; to clients that is one more invalid body.
        return error_response(
            request, 422, ErrorCode.VALIDATION_ERROR, "request body is not valid UTF-8 JSON"
        )
    code = STATUS_CODES.get(exc.status_code, ErrorCode.VALIDATION_ERROR)
    if exc.status_code >= 500:
        code = ErrorCode.INTERNAL_ERROR
    return error_response(request, exc.status_code, code, str(exc.detail), headers=exc.headers)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc, extra={"request_id": request_id(request.scope)})
    response = error_response(request, 500, ErrorCode.INTERNAL_ERROR, INTERNAL_ERROR_MESSAGE)
    # Sent by Starlette's outermost layer, past the middleware that adds these to every other answer.
    response.raw_headers.extend(answer_headers(request.scope))
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
