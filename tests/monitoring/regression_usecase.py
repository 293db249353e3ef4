"""A fixture use case with a regression task, for monitoring's tests: a depot predicts delivery minutes.

Nothing here is installed or registered; tests pass `USE_CASE` to the synthetic writers, or name it through
`STEELTHREAD_USECASE=monitoring.regression_usecase:USE_CASE` (the registry's import-path form). The code
hooks (transform, generator) are never loaded by monitoring, so they name nothing real.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from steelthread_contracts.decision import DecisionPolicy, Thresholds
from steelthread_contracts.package import Task
from steelthread_contracts.usecase import (
    Entity,
    FeatureView,
    OnDemandView,
    RequestField,
    Tables,
    Texts,
    UseCase,
)

IMPORT_PATH = "monitoring.regression_usecase:USE_CASE"

USE_CASE = UseCase(
    name="depot-eta",
    task=Task.REGRESSION,
    entity=Entity(name="depot", join_key="depot_id", description="Depot key.", example=7),
    request_fields=(
        RequestField("distance_km", "number", gt=0, le=500, example=12.0),
        RequestField("items", "integer", ge=1, le=200, example=6),
        RequestField("vehicle", "choice", choices=("bike", "scooter", "car", "van"), example="car"),
    ),
    tables=Tables(
        events="orders",
        labels="deliveries",
        event_time="ordered_at",
        label="minutes",
        label_time="delivered_at",
    ),
    views=(
        FeatureView(
            name="depot_load",
            table="depots",
            ttl=timedelta(days=1),
            description="How busy the depot is.",
            features=("open_orders", "couriers_on_shift"),
        ),
    ),
    on_demand=OnDemandView(
        name="order_features",
        request_source="order_request",
        features=("distance_per_courier", "rush_hour"),
        stored_inputs=("couriers_on_shift",),
        frame="fixture_not_loaded:frame",
        row="fixture_not_loaded:row",
    ),
    feature_service="depot_eta_v1",
    slice_service="depot_eta_v1_slices",
    generator="fixture_not_loaded",
    scenarios={},
    slices=("vehicle",),
    protected_attribute=None,
    smoke_cases=(),
    smoke_ordering=(),
    texts=Texts(
        api_title="depot ETA",
        api_description="Minutes until delivery.",
        score_field="minutes",
        score_description="Predicted minutes until delivery.",
        label_description="Observed minutes until delivery.",
        request_description="One order.",
    ),
    training_config=Path(__file__),
    policy=DecisionPolicy(name="promise", cuts=Thresholds(review=45.0, decline=90.0)),
    score_range=(0.0, 180.0),
)
