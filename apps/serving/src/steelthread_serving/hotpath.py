"""`POST /v1/predictions` on raw ASGI: the one route that carries the traffic.

FastAPI's per-request machinery (reading the body into a model field, resolving the key dependency,
rendering the response) cost more than the skeleton's answer and its log record together
(bench/bench_serving.py, bench/RESULTS.md), and the middleware stack in front of it (Starlette's error
and FastAPI's telemetry and body-limit layers, then this app's) a further share of live mode's throughput.
`ServingAPI` hands this one route to `PredictionHotPath` before all of that; it answers well-formed,
authorised predictions with a declared length within the body limit itself, with the same checks FastAPI
makes (a JSON parse, then `PredictionRequest.model_validate`, as FastAPI validates a JSON body), the same
service call and the same request metric. Everything else (no or unknown key, a body that does not
validate, another content type, a chunked or oversized body) goes on, body included, to the full stack,
which stays the one place that renders errors; `tests/serving/test_serving_hotpath.py` checks both paths
give the same answers.
"""

from __future__ import annotations

import hmac
import logging

import orjson
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from steelthread_contracts import ErrorBody, ErrorCode, PredictionRequest
from steelthread_serving.access_log import AccessLog
from steelthread_serving.errors import INTERNAL_ERROR_MESSAGE
from steelthread_serving.state import AppState

logger = logging.getLogger(__name__)

PATH = "/v1/predictions"
_KEY = b"x-api-key"
_CONTENT_TYPE = b"content-type"
_CONTENT_LENGTH = b"content-length"
_JSON_HEADERS = [(b"content-type", b"application/json")]
_INTERNAL_ERROR = (
    ErrorBody(code=ErrorCode.INTERNAL_ERROR, message=INTERNAL_ERROR_MESSAGE).model_dump_json().encode()
)
"""What the app's handler for unexpected errors answers (errors.py), byte for byte (tested)."""


def _is_json(content_type: bytes) -> bool:
    return content_type.split(b";", 1)[0].strip().lower() == b"application/json"


class ServingAPI(FastAPI):
    """FastAPI whose prediction route is answered ahead of the middleware stack, when `hot_path` is set."""

    hot_path: PredictionHotPath | None = None
    access_log: AccessLog | None = None
    """Wraps everything, hot path included, when the access log is on (`STEELTHREAD_ACCESS_LOG`)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.access_log is not None:
            await self.access_log(scope, receive, send)
        else:
            await self.dispatch(scope, receive, send)

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hot_path is not None and scope["type"] == "http" and scope["path"] == PATH:
            await self.hot_path(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The full stack (middleware, routing, error handlers) for what the hot path does not answer."""
        await super().__call__(scope, receive, send)


class PredictionHotPath:
    def __init__(self, app: ServingAPI, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: AppState | None = getattr(self.app.state, "steelthread", None)
        key = content_type = length = None
        for name, value in scope["headers"]:
            if name == _KEY:
                key = value
            elif name == _CONTENT_TYPE:
                content_type = value
            elif name == _CONTENT_LENGTH:
                length = value
        if (
            state is None
            or scope["method"] != "POST"
            or key is None
            or content_type is None
            or not _is_json(content_type)
            or not _within(length, self.max_body_bytes)  # the server never delivers more than declared
        ):
            await self.app.framework(scope, receive, send)
            return
        body = await _read_body(receive)
        request = _parse(body) if _authorised(key, state.api_keys) else None
        if request is None:
            await self.app.framework(scope, _replay(body, receive), send)
            return
        status = 200
        try:
            payload = await state.service.predict(request)
        except Exception:  # as the app's handler for unexpected errors answers (errors.py)
            logger.exception("unhandled error")
            status, payload = 500, _INTERNAL_ERROR
        headers = [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        state.metrics.child(state.metrics.http_requests, PATH, "POST", str(status)).inc()


def _within(length: bytes | None, limit: int) -> bool:
    """A declared length within the limit; a chunked body (no length) is left to the body-limit layer."""
    return length is not None and length.isdigit() and int(length) <= limit


def _authorised(key: bytes, keys: tuple[bytes, ...]) -> bool:
    matched = False
    for candidate in keys:  # every key compared, in constant time, as the FastAPI dependency does
        matched |= hmac.compare_digest(key, candidate)
    return matched


def _parse(body: bytes) -> PredictionRequest | None:
    # orjson parses in half the time of `json` and is stricter (no NaN literals, lone surrogates or
    # integers past 64 bits): a body it refuses goes to the FastAPI route, which decides as before.
    try:
        return PredictionRequest.model_validate(orjson.loads(body))
    except (ValueError, ValidationError):  # orjson.JSONDecodeError is a ValueError
        return None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # a disconnect: what arrived is passed on and the route sees the disconnect too
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the already-read body to the next app, then defers to the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
