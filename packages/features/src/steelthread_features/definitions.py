"""Names of the active use case's feature set, for the Feast repo, the generator and every consumer.

Derived from the use case's declaration (`steelthread_contracts.usecase.active()`), never written here:
a fork changes its use-case folder, not this module. Kept free of `feast` imports (slow to import) so
that serving and training can learn the feature order and column names cheaply; `tests/features` checks
that the Feast objects agree with them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from steelthread_contracts.usecase import UseCase, active

USE_CASE: Final[UseCase] = active()

PROJECT: Final = USE_CASE.project
FEATURE_SERVICE: Final = USE_CASE.feature_service
"""The model's feature set; training and serving both ask for it by this name."""
SLICE_SERVICE: Final = USE_CASE.slice_service
"""Attributes for evaluation slices and fairness checks; never model inputs."""

ENTITY: Final = USE_CASE.entity.name
JOIN_KEY: Final = USE_CASE.entity.join_key
EVENT_TIMESTAMP: Final = USE_CASE.tables.event_timestamp
CREATED_TIMESTAMP: Final = USE_CASE.tables.created_timestamp

APPLICATION_VIEW: Final = USE_CASE.on_demand.name
REQUEST_SOURCE: Final = USE_CASE.on_demand.request_source

SLICE_COLUMNS: Final[tuple[str, ...]] = USE_CASE.stored_slices
"""Stored slice attributes (served by the slice service); never model inputs."""

REQUEST_FIELDS: Final[tuple[str, ...]] = USE_CASE.request_names
"""Request-time fields (the API's prediction request, besides the entity key)."""

APPLICATION_FEATURES: Final[tuple[str, ...]] = USE_CASE.on_demand.features
"""On-demand (request-time) features, computed by the use case's transform."""

VIEW_TTLS: Final[dict[str, timedelta]] = {v.name: v.ttl for v in USE_CASE.views}

FEATURE_VIEW_OF: Final[dict[str, str]] = USE_CASE.freshness
"""The batch view whose freshness a feature depends on (request-only features have none)."""

FEATURE_NAMES: Final[tuple[str, ...]] = USE_CASE.feature_names
"""The feature service's columns, in the order the model's input tensor uses."""


def feature_names() -> list[str]:
    """The model's feature order, without importing Feast."""
    return list(FEATURE_NAMES)


def slice_columns() -> list[str]:
    return list(SLICE_COLUMNS)
