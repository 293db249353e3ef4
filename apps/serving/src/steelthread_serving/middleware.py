"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware on the hot path), two layers.

`RequestIds` gives every request an id, and every answer the `X-Request-ID` and security headers and its
count by route template (so unknown paths cannot blow up label cardinality); `BodyGuard` answers 413
before a large body is read into memory and 408 when a body does not arrive in time. Each layer costs a
call and a `send` wrapper on every request, so what runs at the same point of a request shares a layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from steelthread_contracts import ErrorBody, ErrorCode

if TYPE_CHECKING:  # errors.py imports this module; settings import errors: keep the chain light
    from steelthread_serving.metrics import ServingMetrics

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = REQUEST_ID_HEADER.lower().encode()
_VALID_ID = re.compile(rb"[A-Za-z0-9_.:-]{1,64}")
"""A client's request id (the contract's `RequestId` pattern); anything else is replaced by a new one."""
_NO_STORE_EXEMPT = ("/static/",)
"""Paths whose answers may be cached (the docs UI's assets); every API answer is `no-store`."""
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""The methods counted by name; clients choose methods, so any other counts as `other`."""


def new_request_id() -> str:
    return f"req-{os.urandom(16).hex()}"  # uuid4 costs more


def request_id(scope: Scope) -> str | None:
    """The id `RequestIds` gave this request (the answer's own id once a prediction route set it)."""
    state = scope.get("state")
    return state.get("request_id") if state else None


def answer_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The headers every answer carries: its request id, `nosniff`, and `no-store` on API answers."""
    headers = [(b"x-content-type-options", b"nosniff")]
    rid = request_id(scope)
    if rid is not None:
        headers.append((_REQUEST_ID, rid.encode()))
    if not str(scope.get("path", "")).startswith(_NO_STORE_EXEMPT):
        headers.append((b"cache-control", b"no-store"))
    return headers


class RequestIds:
    """Every request's id and every answer's headers and count, in one layer (each layer of the stack is
    a call and a `send` wrapper on every request, the prediction route's included).

    The request's id is the client's `X-Request-ID` when it is a valid id, else a new one; handlers read it
    (`request_id`) for error bodies and predictions without their own id, and may replace it (a
    prediction's `request_id`) before answering. Every answer gets `answer_headers`, and is counted by
    route template (unknown paths as `unmatched`, so clients cannot blow up label cardinality) and status;
    an answer that never started (an error past every handler) counts as a 500.
    """

    def __init__(self, app: ASGIApp, metrics: ServingMetrics, routes: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for name, value in scope["headers"]:
            if name == _REQUEST_ID:
                rid = value.decode() if _VALID_ID.fullmatch(value) else None
                break
        scope.setdefault("state", {})["request_id"] = rid or new_request_id()
        status = 500

        async def with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                present = {name for name, _ in headers}
                headers += [h for h in answer_headers(scope) if h[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        finally:
            path = scope.get("path", "")
            route = path if path in self.routes else "unmatched"
            method = scope.get("method", "")
            method = method if method in _METHODS else "other"  # clients choose methods: bound the labels
            self.metrics.child(self.metrics.http_requests, route, method, str(status)).inc()


class _BodyRefusedError(Exception):
    """The body was refused (413 or 408) while the framework was reading it; the answer is sent."""


async def _refuse(send: Send, scope: Scope, status: int, code: ErrorCode, message: str) -> None:
    """An error answer sent from a middleware, closing the connection (the rest of the body is unread)."""
    body = ErrorBody(code=code, message=message, request_id=request_id(scope)).model_dump_json()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


async def _send_413(send: Send, limit: int, scope: Scope) -> None:
    await _refuse(send, scope, 413, ErrorCode.PAYLOAD_TOO_LARGE, f"request body exceeds {limit} bytes")


class BodyGuard:
    """413 before a large body is read into memory, and 408 and a closed connection when a body does not
    arrive in time: the two checks on a request's body, in one layer.

    A declared `Content-Length` over `max_bytes` is refused before anything is read; the server never
    delivers more than a declared length, so a declared body is not counted while it is read, and a body
    without a length (chunked) is counted read by read. A client that declares a length and sends the body
    slowly (or never) would otherwise hold a connection and the request's task for as long as it likes:
    each read of the body must deliver within `timeout_s`; once the whole body is in, reads (waiting for a
    disconnect) are not timed. Both refusals are answered here, while reading: the framework turns an
    exception raised from a body read into a generic 400, so the refusal must be on the wire before it sees
    the error.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        counted = True
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    break  # the server refuses a malformed length before the app sees it
                if length > self.max_bytes:
                    await _send_413(send, self.max_bytes, scope)
                    return
                counted = False
                break
        seen = 0
        complete = started = refused = False

        async def refuse(status: int, code: ErrorCode, why: str) -> None:
            nonlocal refused
            if not started and not refused:
                refused = True
                await _refuse(send, scope, status, code, why)
            raise _BodyRefusedError

        async def guarded_receive() -> Message:
            nonlocal complete, seen
            if complete:
                return await receive()
            try:
                async with asyncio.timeout(self.timeout_s):
                    message = await receive()
            except TimeoutError:
                why = f"request body not received within {self.timeout_s:g} s"
                await refuse(408, ErrorCode.REQUEST_TIMEOUT, why)
            if message["type"] != "http.request":
                complete = True
                return message
            if counted:
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    why = f"request body exceeds {self.max_bytes} bytes"
                    await refuse(413, ErrorCode.PAYLOAD_TOO_LARGE, why)
            complete = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(_BodyRefusedError):
            await self.app(scope, guarded_receive, tracking_send)
