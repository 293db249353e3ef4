"""The Feast repo: entity, feature views, the request-time view and the feature services.

Built from the active use case's declaration (views, request fields, transform), never from names written
here. Objects are built from settings (the data sources depend on the profile), so this module is imported
only where Feast is needed.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from feast import Entity, FeatureService, FeatureView, Field, RequestSource, ValueType
from feast.on_demand_feature_view import OnDemandFeatureView, on_demand_feature_view
from feast.types import Float64, Int64, String

from steelthread_contracts.usecase import FeatureView as ViewSpec
from steelthread_contracts.usecase import UseCase
from steelthread_features.definitions import USE_CASE
from steelthread_features.settings import FeatureSettings
from steelthread_features.sources import batch_source

_FEAST_TYPES = {"float64": Float64, "int64": Int64, "string": String}


def _entity(use_case: UseCase) -> Entity:
    return Entity(
        name=use_case.entity.name,
        join_keys=[use_case.entity.join_key],
        value_type=ValueType.INT64,
        description=use_case.entity.description,
    )


def _on_demand_view(
    use_case: UseCase, views: dict[str, FeatureView], request: RequestSource
) -> OnDemandFeatureView:
    spec = use_case.on_demand
    # One projection per view with all its stored inputs: Feast keys an on-demand view's sources by view
    # name, so a second projection of the same view would silently replace the first.
    by_view: dict[str, list[str]] = {}
    for column in spec.stored_inputs:
        by_view.setdefault(use_case.view_of(column).name, []).append(column)
    sources: list[Any] = [views[name][columns] for name, columns in by_view.items()]

    @on_demand_feature_view(  # type: ignore[untyped-decorator]
        name=spec.name,
        sources=[*sources, request],
        schema=[Field(name=name, dtype=Float64) for name in spec.features],
        mode="pandas",
        description="Request-time features; the same function runs offline and online.",
    )
    def request_time_view(inputs: pd.DataFrame) -> pd.DataFrame:
        # Feast stores this body as source and re-executes it without this module's globals, so the
        # transform is looked up here, from the active use case.
        from steelthread_contracts.usecase import active, load_hook

        frame: pd.DataFrame = load_hook(active().on_demand.frame)(inputs)
        return frame

    view: OnDemandFeatureView = request_time_view
    return view


def _batch_view(spec: ViewSpec, entity: Entity, settings: FeatureSettings) -> FeatureView:
    return FeatureView(
        name=spec.name,
        entities=[entity],
        ttl=spec.ttl,
        schema=[
            *(Field(name=n, dtype=Float64) for n in spec.features),
            *(Field(name=n, dtype=String) for n in (*spec.strings, *spec.slices)),
        ],
        source=batch_source(settings, spec.table),
        online=True,
        description=spec.description,
    )


def build_objects(settings: FeatureSettings, use_case: UseCase = USE_CASE) -> list[Any]:
    """Every Feast object of the repo, with data sources for the settings' offline store."""
    entity = _entity(use_case)
    views = {spec.name: _batch_view(spec, entity, settings) for spec in use_case.views}
    request = RequestSource(
        name=use_case.on_demand.request_source,
        schema=[Field(name=f.name, dtype=_FEAST_TYPES[f.storage]) for f in use_case.request_fields],
    )
    on_demand = _on_demand_view(use_case, views, request)
    served = [
        views[spec.name] if spec.columns == spec.served else views[spec.name][list(spec.served)]
        for spec in use_case.views
        if spec.served
    ]
    model_service = FeatureService(
        name=use_case.feature_service,
        features=[*served, on_demand],
        description="The model's inputs, in the model's order.",
    )
    sliced = [views[spec.name][list(spec.slices)] for spec in use_case.views if spec.slices]
    slice_service = FeatureService(
        name=use_case.slice_service,
        features=sliced,
        description="Evaluation slices and fairness attributes; never model inputs.",
    )
    return [entity, *views.values(), request, on_demand, model_service, slice_service]
