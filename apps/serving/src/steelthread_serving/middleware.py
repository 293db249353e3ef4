"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware on the hot path).

`BodyLimit` answers 413 before a large body is read into memory; `RequestMetrics` counts every answer by
route template so unknown paths cannot blow up label cardinality.
"""

from __future__ import annotations

import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from steelthread_contracts import ErrorBody, ErrorCode
from steelthread_serving.metrics import ServingMetrics


class _BodyTooLargeError(Exception):
    pass


async def _send_413(send: Send, limit: int) -> None:
    body = ErrorBody(
        code=ErrorCode.PAYLOAD_TOO_LARGE,
        message=f"request body exceeds {limit} bytes",
    ).model_dump_json()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    break  # the server refuses a malformed length before the app sees it
                if length > self.max_bytes:
                    await _send_413(send, self.max_bytes)
                    return
                # The server never delivers more than a declared length: nothing to count while reading.
                await self.app(scope, receive, send)
                return
        seen = 0
        started = False
        refused = False

        async def limited_receive() -> Message:
            # Answer 413 here, while reading: the framework would turn an exception raised from a body
            # read into a generic 400, so the refusal must be on the wire before it sees the error.
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    if not started and not refused:
                        refused = True
                        await _send_413(send, self.max_bytes)
                    raise _BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(_BodyTooLargeError):
            await self.app(scope, limited_receive, tracking_send)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    def __init__(self, app: ASGIApp, metrics: ServingMetrics, routes: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            path = scope.get("path", "")
            route = path if path in self.routes else "unmatched"
            method = scope.get("method", "")
            method = method if method in _METHODS else "other"  # clients choose methods: bound the labels
            self.metrics.child(self.metrics.http_requests, route, method, str(status)).inc()
