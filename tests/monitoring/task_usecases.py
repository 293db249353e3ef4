"""Fixture use cases of each task monitoring evaluates, for its tests: a depot predicts delivery minutes
(`REGRESSION`), or whether a delivery will be late (`BINARY`, the same declaration with another task).

Monitoring follows the package's task, not the process's use case, so its tests need a deployment of a
given task whatever `STEELTHREAD_USECASE` runs (the credit example is binary, the delivery example
regression): `other_than(task)` is a fixture of another task than the active one's. They are self-contained
on purpose: tests/fixtures/usecases/regression_fixture.py derives from a shipped example and keeps its task
regression, so it cannot play the binary part, nor a regression use case other than the delivery example.

Nothing here is installed or registered; tests pass a declaration to the synthetic writers, or name it
through `STEELTHREAD_USECASE=monitoring.task_usecases:REGRESSION` (the registry's import-path form,
`IMPORT_PATHS`). The code hooks (transform, generator) are never loaded by monitoring, so they name nothing
real.
"""

from __future__ import annotations

from dataclasses import replace
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

REGRESSION = UseCase(
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

BINARY = replace(
    REGRESSION,
    name="depot-late",
    task=Task.BINARY,
    texts=replace(
        REGRESSION.texts,
        score_field="late_probability",
        score_description="Probability that the delivery is late.",
        label_description="1 = late, 0 = on time.",
    ),
    policy=DecisionPolicy(name="fail-closed"),
    score_range=(0.0, 1.0),
)

BY_TASK: dict[Task, UseCase] = {Task.BINARY: BINARY, Task.REGRESSION: REGRESSION}
IMPORT_PATHS: dict[Task, str] = {
    Task.BINARY: "monitoring.task_usecases:BINARY",
    Task.REGRESSION: "monitoring.task_usecases:REGRESSION",
}


def other_than(task: Task) -> UseCase:
    """A fixture whose task is not `task` (the regression one for a binary process, else the binary one)."""
    return REGRESSION if task is Task.BINARY else BINARY
