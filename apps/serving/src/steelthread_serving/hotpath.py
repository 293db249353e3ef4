"""`POST /v1/predictions` on raw ASGI: the one route that carries the traffic.

FastAPI's per-request machinery (reading the body into a model field, resolving the key dependency,
rendering the response) cost ~150 us a request here, more than the skeleton's answer and its log record
together (bench/bench_serving.py). This middleware answers well-formed, authorised predictions itself with
the same checks FastAPI makes (a JSON parse, then `PredictionRequest.model_validate`, as FastAPI validates
a JSON body) and the same service call. Everything else (no or unknown key, a body that does not
validate, another content type) goes on, body included, to the FastAPI route, which stays the one place
that renders errors; `tests/serving/test_serving_hotpath.py` checks both paths give the same answers.
"""

from __future__ import annotations

import hmac

import orjson
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from steelthread_contracts import PredictionRequest, PredictionResponse
from steelthread_serving.state import AppState

PATH = "/v1/predictions"
_KEY = b"x-api-key"
_CONTENT_TYPE = b"content-type"
_JSON_HEADERS = [(b"content-type", b"application/json")]
_serialize = PredictionResponse.__pydantic_serializer__.to_json


def _is_json(content_type: bytes) -> bool:
    return content_type.split(b";", 1)[0].strip().lower() == b"application/json"


class PredictionHotPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        state: AppState | None = getattr(scope["app"].state, "steelthread", None)
        key = content_type = None
        for name, value in scope["headers"]:
            if name == _KEY:
                key = value
            elif name == _CONTENT_TYPE:
                content_type = value
        body = await _read_body(receive)
        request = None
        if state is not None and key is not None and content_type is not None and _is_json(content_type):
            request = _parse(body) if _authorised(key, state.api_keys) else None
        if request is None or state is None:
            await self.app(scope, _replay(body, receive), send)
            return
        payload = _serialize(await state.service.predict(request))
        headers = [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


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
