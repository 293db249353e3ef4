"""The route classes of the `/v1` API: inside FastAPI's stack, with orjson in and bytes out.

Every `/v1` route is a `ServingRoute`: its handler checks the key (auth.py), the quotas (quotas.py) and the
content type before the body is read, so a request without a key gets 401 whatever its body, and a body
that is not JSON gets 415. Then FastAPI's own handler runs with a request whose `json()` is orjson's (as
Seldon MLServer's `rest/requests.py` does); once it has answered, what the request caused (its records'
bytes, its unknown entity keys) is charged to its key's quotas. Middleware (request ids, metrics, the body
limit), routing and the exception handlers are the framework's and this app's, once, for every route.

`POST /v1/predictions` carries the traffic, so it is a `JsonBytesRoute`: after the same checks it parses
the body with orjson and validates it with the route's body model itself, then calls the endpoint, which
answers JSON bytes. That skips FastAPI's per-request dependency solving and response rendering (the
endpoint's signature still declares the body and the response model, so the OpenAPI document is
FastAPI's), and nothing else: an invalid body raises FastAPI's own `RequestValidationError`, rendered by
the one handler in errors.py. ADR 0014 says why this replaced the raw-ASGI path of ADR 0010.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any, cast

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from steelthread_contracts import ErrorCode
from steelthread_serving.auth import authenticate
from steelthread_serving.errors import ApiError
from steelthread_serving.quotas import Usage
from steelthread_serving.scopes import KeyScope
from steelthread_serving.state import AppState

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_CONTENT_TYPE = b"content-type"
SCOPE_EXTENSION = "x-required-scope"
"""The OpenAPI extension naming the key scope an operation needs (auth.KeyScope)."""


def operation_id(route: APIRoute) -> str:
    """The operation's id in the API document is its endpoint's name (`predict`, `predict_batch`), which
    generated clients use as method names; FastAPI's default appends the path and method."""
    return route.name


def loads(body: bytes) -> Any:
    """orjson's parse; what it refuses (a NaN literal, a 70-bit integer, a lone surrogate) the standard
    library decides, as FastAPI would, so a refusal names the field where it can instead of calling
    the whole body invalid."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


class OrjsonRequest(Request):
    """A request whose `json()` parses with orjson (FastAPI's handler calls it for JSON bodies)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


def is_json(content_type: bytes) -> bool:
    """`application/json` or `application/<x>+json`, any parameters (a charset) aside."""
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.steelthread
    return state


def client_address(request: Request) -> str:
    """The client's address as the server saw it (uvicorn's `FORWARDED_ALLOW_IPS` decides whether a
    proxy's `X-Forwarded-For` replaces it)."""
    client = request.scope.get("client")
    return str(client[0]) if client else "unknown"


async def check(request: Request, needs: KeyScope) -> AppState:
    """The checks before a `/v1` body is read: the client address's failed authentications (429), the key
    (401) and its scope (403), the key's quotas (429), then a JSON content type (415). The caller is
    `request.state.principal` from here on, and what the request causes is counted in
    `request.state.usage` (charged by `settle`)."""
    state = app_state(request)
    quotas = state.quotas
    address = client_address(request)
    if quotas.auth_failures:
        await quotas.auth_failures.refuse_if_exceeded(address)
    try:
        principal = authenticate(request.scope, state.keys, needs)
    except ApiError as exc:
        if exc.status == 401:
            await quotas.auth_failed(address)
        raise
    request.state.principal = principal
    request.state.usage = Usage()
    if quotas.requests:
        await quotas.requests.hit(principal.owner)
    if request.scope["method"] in _BODY_METHODS:
        # The routes that score and log: refused before anything is scored or written, never after.
        if quotas.logged_bytes:
            await quotas.logged_bytes.refuse_if_exceeded(principal.owner)
        if quotas.unknown_entities:
            await quotas.unknown_entities.refuse_if_exceeded(principal.owner)
        content_type = next((v for n, v in request.scope["headers"] if n == _CONTENT_TYPE), b"")
        if not is_json(content_type):
            raise ApiError(
                415,
                ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                "the body must be JSON: send Content-Type: application/json",
                "Content-Type",
            )
    return state


async def settle(request: Request, state: AppState) -> None:
    """Charge what the request caused (its records' bytes, its unknown entity keys) to its key's quotas,
    whatever became of the answer: what was written counts."""
    usage: Usage = request.state.usage
    if usage.logged_bytes or usage.unknown_entities:
        await state.quotas.settle(request.state.principal.owner, usage)


class ServingRoute(APIRoute):
    """A `/v1` route: key and content type checked before the body, FastAPI's handler with orjson. The
    route states the key scope it needs as `openapi_extra={SCOPE_EXTENSION: ...}` (in the API document)."""

    @property
    def needs(self) -> KeyScope:
        scope = (self.openapi_extra or {}).get(SCOPE_EXTENSION)
        if scope is None:
            raise TypeError(f"{self.path}: a /v1 route states its key scope ({SCOPE_EXTENSION})")
        return KeyScope(scope)

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        needs = self.needs

        async def route(request: Request) -> Response:
            state = await check(request, needs)
            try:
                return await handler(OrjsonRequest(request.scope, request.receive, request._send))
            finally:
                await settle(request, state)

        return route


def _validation_error(exc: ValidationError) -> RequestValidationError:
    """FastAPI's error for an invalid body: its locations start with `body`, as FastAPI's own do."""
    errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
    return RequestValidationError(errors)


class JsonBytesRoute(ServingRoute):
    """A route whose endpoint takes one validated body model and `request`, and answers a `Response`
    (JSON bytes)."""

    def get_route_handler(self) -> Handler:
        [param] = self.dependant.body_params
        model = cast(type[BaseModel], param.field_info.annotation)
        body_name, request_name = param.name, self.dependant.request_param_name
        endpoint = cast(Callable[..., Coroutine[Any, Any, Response]], self.endpoint)
        needs = self.needs
        if request_name is None:
            raise TypeError(f"{self.path}: a JsonBytesRoute endpoint takes the request")

        async def route(request: Request) -> Response:
            state = await check(request, needs)
            try:
                body = model.model_validate(loads(await request.body()))
            except ValidationError as exc:
                raise _validation_error(exc) from None
            except ValueError:  # not JSON (json.JSONDecodeError), or not UTF-8 (UnicodeDecodeError)
                raise RequestValidationError(
                    [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error"}]
                ) from None
            try:
                return await endpoint(**{body_name: body, request_name: request})
            finally:
                await settle(request, state)

        return route
