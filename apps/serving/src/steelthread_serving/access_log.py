"""The access log, switched on by `STEELTHREAD_ACCESS_LOG=true`: one JSON line per answered request.

Off by default: every prediction already has its record in the prediction log, and a line per request costs
the server time. When on, it is the outermost middleware, so each answer is logged once, with the event name
`access`, method, path, status, duration, and for a prediction the request id, mode and model version read
from the answer itself.
"""

from __future__ import annotations

import logging
import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

_ANSWER_FIELDS = ("request_id", "mode", "model_version", "degraded_reason")
_MAX_PARSED_BYTES = 64 * 1024
"""Larger answers (batch predictions) are logged without their fields: parsing them would cost too much."""


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        body = bytearray()

        async def logging_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and len(body) < _MAX_PARSED_BYTES:
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, logging_send)
        finally:
            fields: dict[str, object] = {
                "event": "access",
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            }
            client = scope.get("client")
            if client:
                fields["client"] = client[0]
            fields |= _answer_fields(bytes(body))
            logger.info("%s %s %d", fields["method"], fields["path"], status, extra=fields)


def _answer_fields(body: bytes) -> dict[str, object]:
    if not body.startswith(b"{") or len(body) >= _MAX_PARSED_BYTES:
        return {}
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return {name: answer[name] for name in _ANSWER_FIELDS if answer.get(name) is not None}
