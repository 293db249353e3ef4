"""The route classes of the `/v1` API: inside FastAPI's stack, with orjson in and bytes out.

Every `/v1` route is a `ServingRoute`: its handler checks the key (auth.py) and the content type before the
body is read, so a request without a key gets 401 whatever its body, and a body that is not JSON gets 415;
then FastAPI's own handler runs with a request whose `json()` is orjson's (as Seldon MLServer's
`rest/requests.py` does). Middleware (request ids, metrics, the body limit), routing and the exception
handlers are the framework's and this app's, once, for every route.

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


async def check(request: Request, needs: KeyScope) -> AppState:
    """The checks before a `/v1` body is read: the key (401) and its scope (403), its quota (429), then a
    JSON content type (415). The caller is `request.state.principal` from here on."""
    state = app_state(request)
    principal = authenticate(request.scope, state.keys, needs)
    request.state.principal = principal
    if state.quotas.limits:
        await state.quotas.check(principal.owner)
    if request.scope["method"] in _BODY_METHODS:
        content_type = next((v for n, v in request.scope["headers"] if n == _CONTENT_TYPE), b"")
        if not is_json(content_type):
            raise ApiError(
                415,
                ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                "the body must be JSON: send Content-Type: application/json",
                "Content-Type",
            )
    return state


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
            await check(request, needs)
            return await handler(OrjsonRequest(request.scope, request.receive, request._send))

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
            await check(request, needs)
            try:
                body = model.model_validate(loads(await request.body()))
            except ValidationError as exc:
                raise _validation_error(exc) from None
            except ValueError:  # not JSON (json.JSONDecodeError), or not UTF-8 (UnicodeDecodeError)
                raise RequestValidationError(
                    [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error"}]
                ) from None
            return await endpoint(**{body_name: body, request_name: request})

        return route
