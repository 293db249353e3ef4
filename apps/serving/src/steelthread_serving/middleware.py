"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware on the hot path).

`RequestIds` gives every request an id and every answer the `X-Request-ID` and security headers;
`BodyLimit` answers 413 before a large body is read into memory; `RequestMetrics` counts every answer by
route template so unknown paths cannot blow up label cardinality.
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
    """The request's id is the client's `X-Request-ID` when it is a valid id, else a new one; handlers
    read it (`request_id`) for error bodies and predictions without their own id, and may replace it
    (a prediction's `request_id`) before answering. Every answer gets `answer_headers`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name for name, _ in headers}
                headers += [h for h in answer_headers(scope) if h[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class _BodyTooLargeError(Exception):
    pass


class _BodyTooSlowError(Exception):
    pass


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


class BodyTimeout:
    """408 and a closed connection when a request's body does not arrive in time.

    A client that declares a length and sends the body slowly (or never) would otherwise hold a
    connection and the request's task for as long as it likes. Each read of the body must deliver
    within `timeout_s`; once the whole body is in, reads (waiting for a disconnect) are not timed.
    """

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        complete = started = refused = False

        async def timed_receive() -> Message:
            # Answered here, as BodyLimit does: the framework turns an error from a body read into a 400.
            nonlocal complete, refused
            if complete:
                return await receive()
            try:
                async with asyncio.timeout(self.timeout_s):
                    message = await receive()
            except TimeoutError:
                if not started and not refused:
                    refused = True
                    why = f"request body not received within {self.timeout_s:g} s"
                    await _refuse(send, scope, 408, ErrorCode.REQUEST_TIMEOUT, why)
                raise _BodyTooSlowError from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(_BodyTooSlowError):
            await self.app(scope, timed_receive, tracking_send)


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
                    await _send_413(send, self.max_bytes, scope)
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
                        await _send_413(send, self.max_bytes, scope)
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
