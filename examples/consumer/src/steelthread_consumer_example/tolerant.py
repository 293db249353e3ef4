"""Reading answers as a tolerant reader: what a newer server adds never breaks this client.

Adding a response field or an enum value is a compatible change of the v1 API (docs/api-contract.md). The
contract's answer models ignore fields they do not know; an enum value this client does not know yet (a
new serving mode, decision, error code or degraded reason) is read as that enum's fallback below, and
logged, so an answer from a newer server still parses:

- a decision: the use case's fail-closed decision (the client acts as when no model could answer);
- who decided: `fallback`; a mode: `skeleton` (neither is taken for the model's answer);
- an error code: `internal_error` (one this client cannot act on; the HTTP status still says what happened);
- an optional value (a degraded reason): null.
"""

from __future__ import annotations

import json
import logging
import types
from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel

logger = logging.getLogger(__name__)

Model = TypeVar("Model", bound=BaseModel)
Fallbacks = Mapping[type[Enum], Enum]


def read(model: type[Model], content: bytes, fallbacks: Fallbacks) -> Model:
    """`content` (JSON) as `model`, with values of enums this client does not know read as fallbacks."""
    return model.model_validate(known(model, json.loads(content), fallbacks))


def known(annotation: Any, value: Any, fallbacks: Fallbacks, optional: bool = False) -> Any:
    """`value` read against `annotation` (a model, a list, an optional, an enum): each unknown enum value
    replaced by its enum's fallback, or by null where the field is optional and the enum has none."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(value, dict):
        fields = annotation.model_fields
        return {
            name: known(fields[name].annotation, item, fallbacks) if name in fields else item
            for name, item in value.items()
        }
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        if value is None or value in {member.value for member in annotation}:
            return value
        fallback = fallbacks.get(annotation)
        if fallback is None and not optional:
            return value  # no fallback: validation names the field
        logger.warning(
            "unknown %s value %r read as %r", annotation.__name__, value, fallback and fallback.value
        )
        return None if fallback is None else fallback.value
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list and isinstance(value, list) and args:
        return [known(args[0], item, fallbacks) for item in value]
    if origin in (Union, types.UnionType) and type(None) in args:
        [inner] = [a for a in args if a is not type(None)][:1] or [None]
        return known(inner, value, fallbacks, optional=True)
    return value
