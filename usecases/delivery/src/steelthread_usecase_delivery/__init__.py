"""The delivery-time example (regression): a customer checks out a food order; the service answers the
expected minutes until the courier hands it over, and whether to promise the delivery slot.

`USE_CASE` is the whole declaration the plumbing reads (registered under the entry-point group
`steelthread.usecases` as `delivery`, see pyproject.toml; `STEELTHREAD_USECASE=delivery` selects it). It is
the second example beside credit: another entity, other features, another task, the same plumbing.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

from steelthread_contracts.api import Decision
from steelthread_contracts.decision import DecisionPolicy, Thresholds
from steelthread_contracts.package import Task
from steelthread_contracts.usecase import (
    Entity,
    FeatureView,
    OnDemandView,
    RequestField,
    SmokeCase,
    Tables,
    Texts,
    UseCase,
)
from steelthread_usecase_delivery.domain import (
    CUISINES,
    JOIN_KEY,
    MAX_MINUTES,
    ORDER_FEATURES,
    PROFILE_FEATURES,
    STATS_FEATURES,
    VEHICLES,
)
from steelthread_usecase_delivery.reasons import REASONS

__all__ = ["PROMISE", "USE_CASE"]

PROMISE = Thresholds(review=45.0, decline=60.0)
"""Minutes: under 45 the slot is promised (approve), 45 to 60 a dispatcher looks (review), 60 and more the
slot is not promised (decline)."""

_UNKNOWN: dict[str, float | int | str | None] = dict.fromkeys((*PROFILE_FEATURES, *STATS_FEATURES), math.nan)

_QUICK: dict[str, float | int | str | None] = {
    "prep_minutes_p50": 7.0,
    "prep_minutes_p90": 10.0,
    "kitchen_staff": 6.0,
    "cuisine": "salad",
    "orders_per_day_7d": 30.0,
    "courier_wait_minutes_7d": 2.0,
    "late_share_7d": 0.03,
    "basket_value": 18.0,
    "item_count": 2,
    "distance_km": 1.2,
    "vehicle": "bike",
    "order_hour": 15,
}

SMOKE_CASES = (
    SmokeCase("quick", "fast salad kitchen, 1.2 km by bike, mid-afternoon", _QUICK, (8.0, 30.0)),
    SmokeCase(
        "typical",
        "pizza for three, 3.5 km by scooter at dinner time",
        _QUICK
        | {
            "prep_minutes_p50": 14.0,
            "prep_minutes_p90": 19.0,
            "kitchen_staff": 4.0,
            "cuisine": "pizza",
            "orders_per_day_7d": 45.0,
            "courier_wait_minutes_7d": 5.0,
            "late_share_7d": 0.12,
            "basket_value": 32.0,
            "item_count": 3,
            "distance_km": 3.5,
            "vehicle": "scooter",
            "order_hour": 19,
        },
        (25.0, 60.0),
    ),
    SmokeCase(
        "slow",
        "overloaded curry kitchen, large order, 9 km by car at the dinner peak",
        _QUICK
        | {
            "prep_minutes_p50": 22.0,
            "prep_minutes_p90": 35.0,
            "kitchen_staff": 2.0,
            "cuisine": "curry",
            "orders_per_day_7d": 90.0,
            "courier_wait_minutes_7d": 9.0,
            "late_share_7d": 0.4,
            "basket_value": 95.0,
            "item_count": 8,
            "distance_km": 9.0,
            "vehicle": "car",
            "order_hour": 19,
        },
        (60.0, MAX_MINUTES),
    ),
    SmokeCase(
        "unknown_restaurant",
        "no profile or statistics (a new restaurant): missing values must still give a finite estimate",
        _UNKNOWN
        | {
            "cuisine": None,
            "basket_value": 25.0,
            "item_count": 2,
            "distance_km": 2.5,
            "vehicle": "scooter",
            "order_hour": 12,
        },
        (0.0, MAX_MINUTES),
    ),
)

USE_CASE = UseCase(
    name="delivery",
    task=Task.REGRESSION,
    entity=Entity(
        name="restaurant",
        join_key=JOIN_KEY,
        description="Restaurant key in the feature store.",
        example=17,
    ),
    request_fields=(
        RequestField(
            "basket_value", "number", gt=0, le=5_000, example=32.0, description="Order value in euros."
        ),
        RequestField(
            "item_count", "integer", ge=1, le=100, example=3, description="Number of items in the basket."
        ),
        RequestField(
            "distance_km",
            "number",
            ge=0,
            le=30,
            example=3.5,
            description="Route distance from the restaurant to the customer, in kilometres.",
        ),
        RequestField(
            "vehicle",
            "choice",
            choices=VEHICLES,
            enum_name="Vehicle",
            example="scooter",
            description="The courier's vehicle as dispatch assigned it.",
        ),
        RequestField(
            "order_hour",
            "integer",
            ge=0,
            le=23,
            example=19,
            description="Local hour of day the order is placed (0-23).",
        ),
    ),
    tables=Tables(
        events="orders",
        labels="deliveries",
        event_time="order_timestamp",
        label="delivered_minutes",
        label_time="delivered_timestamp",
    ),
    views=(
        FeatureView(
            name="restaurant_profile",
            table="restaurants",
            ttl=timedelta(days=3650),
            read_budget_ms=2.0,  # p99 of one entity's online read (bench/bench_features.py)
            description="Restaurant profile; cuisine feeds the transform; city and city_zone are slices.",
            features=PROFILE_FEATURES,
            strings=("cuisine",),
            slices=("city", "city_zone"),
        ),
        FeatureView(
            name="restaurant_performance",
            table="restaurant_stats",
            ttl=timedelta(days=21),
            read_budget_ms=2.0,  # p99 of one entity's online read (bench/bench_features.py)
            description="Weekly restaurant statistics; older than the TTL counts as unknown.",
            features=STATS_FEATURES,
        ),
    ),
    on_demand=OnDemandView(
        name="order_features",
        request_source="order_request",
        features=ORDER_FEATURES,
        stored_inputs=("cuisine", "prep_minutes_p50"),
        frame="steelthread_usecase_delivery.transforms:order_features",
        budget_ms=1.0,  # p99 of one request's row (bench/bench_features.py)
        row="steelthread_usecase_delivery.transforms:order_row",
        freshness={
            "prep_plus_ride": "restaurant_profile",
            **{f"cuisine_{c}": "restaurant_profile" for c in CUISINES},
        },
    ),
    feature_service="delivery_time_v1",
    slice_service="delivery_time_v1_slices",
    generator="steelthread_usecase_delivery.generator",
    scenarios={
        "distance_shift": "orders come from 50 % further away (orders.distance_km)",
        "new_vehicle": "a vehicle unseen in training appears (orders.vehicle)",
        "courier_shortage": "restaurants report much longer courier waits "
        "(restaurant_stats.courier_wait_minutes_7d, a stored feature)",
        "missing_values": "restaurant statistics go missing "
        "(restaurant_stats.courier_wait_minutes_7d, late_share_7d)",
        "label_shift": "deliveries take eight minutes longer than the model learned "
        "(deliveries.delivered_minutes, delivered_timestamp)",
    },
    slices=("vehicle", "city", "city_zone"),
    protected_attribute=None,
    smoke_cases=SMOKE_CASES,
    smoke_ordering=("quick", "typical", "slow"),
    texts=Texts(
        api_title="steelthread delivery-time API",
        api_description=(
            "Expected delivery minutes of a food order, and whether to promise the slot: approve = promise "
            "it (under 45 minutes), review = a dispatcher looks (45 to 60), decline = do not promise it "
            "(60 or more). When no model can answer, a dispatcher looks (review)."
        ),
        score_field="expected_minutes",
        score_description="Expected minutes from checkout until the courier hands the order over.",
        label_description="Minutes from checkout to handover, observed at delivery.",
        request_description="One food order as the ordering app knows it at checkout.",
    ),
    training_config=Path(__file__).with_name("training.yaml"),
    reasons=REASONS,
    policy=DecisionPolicy(fallback=Decision.REVIEW, name="delivery-promise", cuts=PROMISE),
    score_range=(0.0, MAX_MINUTES),
    label_delay=timedelta(minutes=MAX_MINUTES),
)
