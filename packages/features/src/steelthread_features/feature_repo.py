"""The Feast repo: entity, feature views, the request-time view and the feature services.

Objects are built from settings (the data sources depend on the profile), so this module is imported
only where Feast is needed. Column names and order come from `definitions`, which stays Feast-free.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from feast import Entity, FeatureService, FeatureView, Field, RequestSource, ValueType
from feast.on_demand_feature_view import OnDemandFeatureView, on_demand_feature_view
from feast.types import Float64, Int64, String

from steelthread_features.definitions import (
    APPLICATION_FEATURES,
    APPLICATION_VIEW,
    ENTITY,
    FEATURE_SERVICE,
    HISTORY_FEATURES,
    HISTORY_TTL,
    HISTORY_VIEW,
    JOIN_KEY,
    PROFILE_CATEGORICAL,
    PROFILE_FEATURES,
    PROFILE_TTL,
    PROFILE_VIEW,
    REQUEST_SOURCE,
    SLICE_COLUMNS,
    SLICE_SERVICE,
)
from steelthread_features.settings import FeatureSettings
from steelthread_features.sources import batch_source


def _customer() -> Entity:
    return Entity(
        name=ENTITY,
        join_keys=[JOIN_KEY],
        value_type=ValueType.INT64,
        description="A loan applicant.",
    )


def _application_view(
    profile: FeatureView, history: FeatureView, request: RequestSource
) -> OnDemandFeatureView:
    @on_demand_feature_view(  # type: ignore[untyped-decorator]
        name=APPLICATION_VIEW,
        sources=[profile[["home_ownership"]], history[["total_balance"]], request],
        schema=[Field(name=name, dtype=Float64) for name in APPLICATION_FEATURES],
        mode="pandas",
        description="Request-time features; the same function runs offline and online.",
    )
    def application_view(inputs: pd.DataFrame) -> pd.DataFrame:
        # Feast stores this body as source and re-executes it without this module's globals,
        # so the shared transform is imported here.
        from steelthread_features.transforms import application_features

        return application_features(inputs)

    view: OnDemandFeatureView = application_view
    return view


def build_objects(settings: FeatureSettings) -> list[Any]:
    """Every Feast object of the repo, with data sources for the settings' offline store."""
    customer = _customer()
    profile = FeatureView(
        name=PROFILE_VIEW,
        entities=[customer],
        ttl=PROFILE_TTL,
        schema=[
            *(Field(name=n, dtype=Float64) for n in PROFILE_FEATURES),
            *(Field(name=n, dtype=String) for n in PROFILE_CATEGORICAL),
            *(Field(name=n, dtype=String) for n in SLICE_COLUMNS),
        ],
        source=batch_source(settings, "customers"),
        online=True,
        description="Customer profile; region and protected_group are for slices only.",
    )
    history = FeatureView(
        name=HISTORY_VIEW,
        entities=[customer],
        ttl=HISTORY_TTL,
        schema=[Field(name=n, dtype=Float64) for n in HISTORY_FEATURES],
        source=batch_source(settings, "credit_history"),
        online=True,
        description="Credit-bureau snapshots; older than the TTL counts as unknown.",
    )
    request = RequestSource(
        name=REQUEST_SOURCE,
        schema=[
            Field(name="loan_amount", dtype=Float64),
            Field(name="term_months", dtype=Int64),
            Field(name="purpose", dtype=String),
            Field(name="declared_income", dtype=Float64),
        ],
    )
    application = _application_view(profile, history, request)
    model_service = FeatureService(
        name=FEATURE_SERVICE,
        features=[profile[list(PROFILE_FEATURES)], history, application],
        description="The credit-risk model's inputs, in the model's order.",
    )
    slice_service = FeatureService(
        name=SLICE_SERVICE,
        features=[profile[list(SLICE_COLUMNS)]],
        description="Evaluation slices and fairness attributes; never model inputs.",
    )
    return [customer, profile, history, request, application, model_service, slice_service]
