"""What serving reads from the active use case, read once at import (never per request).

The process serves one use case (`STEELTHREAD_USECASE`, default the credit example): its API models
(`steelthread_contracts.requests`), the entity key a request carries, the answer's score name and range,
the request fields the prediction log keeps, the decision policy and the API's texts. Every other serving
module takes these names from here, so none names a field of any use case.
"""

from __future__ import annotations

from typing import Final

from steelthread_contracts.degraded import unknown_entity
from steelthread_contracts.requests import ApiModels, api_models
from steelthread_contracts.usecase import Texts
from steelthread_features.definitions import USE_CASE

__all__ = [
    "JOIN_KEY",
    "LOGGED_REQUEST_FIELDS",
    "MODELS",
    "SCORE_FIELD",
    "SCORE_RANGE",
    "TEXTS",
    "UNKNOWN_ENTITY",
    "USE_CASE",
]

MODELS: Final[ApiModels] = api_models()
"""The active use case's API models (`steelthread_contracts.PredictionRequest` and the others are these)."""
JOIN_KEY: Final = USE_CASE.entity.join_key
"""The request's entity key (`customer_id` in the credit example): canary bucket and log record key."""
SCORE_FIELD: Final = MODELS.score_field
"""The answer's score key (`probability_of_default` in the credit example)."""
SCORE_RANGE: Final[tuple[float, float]] = USE_CASE.score_range
"""A model score outside it is invalid (the fallback answers); the credit example's is [0, 1]."""
LOGGED_REQUEST_FIELDS: Final[tuple[str, ...]] = (JOIN_KEY, *USE_CASE.request_names)
"""The request fields the prediction log keeps, as received (orjson writes an enum's value)."""
UNKNOWN_ENTITY: Final = unknown_entity(USE_CASE.entity.name)
"""The degraded reason when the store knows no features of the key (`unknown_customer` for credit)."""
TEXTS: Final[Texts] = USE_CASE.texts
