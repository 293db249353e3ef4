"""The delivery example's domain vocabulary: categories and constants its transform and generator share.

Feast-free and pandas-free, so the declaration (and serving, which loads it) stays light.
"""

from __future__ import annotations

from typing import Final

VEHICLES: Final[tuple[str, ...]] = ("bike", "e_bike", "scooter", "car")
NEW_VEHICLE: Final = "e_bike"
"""Vehicle held out of the baseline; the `new_vehicle` scenario introduces it (still a valid API value, so
the scenario can be replayed through serving)."""
CUISINES: Final[tuple[str, ...]] = ("pizza", "burger", "sushi", "salad", "curry", "bakery")
CITIES: Final[tuple[str, ...]] = ("amsterdam", "rotterdam", "utrecht", "eindhoven")
CITY_ZONES: Final[tuple[str, ...]] = ("centre", "inner", "outer")

RUSH_HOURS: Final[frozenset[int]] = frozenset({11, 12, 13, 18, 19, 20})
"""Local hours of the lunch and dinner peaks (the `rush_hour` flag)."""
NOMINAL_KMH: Final[dict[str, float]] = {"bike": 14.0, "e_bike": 18.0, "scooter": 24.0, "car": 30.0}
"""The planner's speed per vehicle, for the naive `ride_minutes` estimate. The real speeds differ (a car
crawls at rush hour, a bike tires past a few kilometres): learning how is the model's job."""
MAX_MINUTES: Final = 240.0
"""Deliveries are capped here (the score range's upper end); a label (the handover) therefore arrives at most
this long after its order: the use case's `label_delay`."""

JOIN_KEY: Final = "restaurant_id"
EVENT_TIMESTAMP: Final = "event_timestamp"
CREATED_TIMESTAMP: Final = "created_timestamp"

PROFILE_FEATURES: Final[tuple[str, ...]] = ("prep_minutes_p50", "prep_minutes_p90", "kitchen_staff")
STATS_FEATURES: Final[tuple[str, ...]] = (
    "orders_per_day_7d",
    "courier_wait_minutes_7d",
    "late_share_7d",
)
ORDER_FEATURES: Final[tuple[str, ...]] = (
    "order_value",
    "order_items",
    "trip_km",
    "hour_of_day",
    "rush_hour",
    "value_per_item",
    "ride_minutes",
    "prep_plus_ride",
    *(f"vehicle_{v}" for v in VEHICLES),
    *(f"cuisine_{c}" for c in CUISINES),
)
"""Request-time features in tensor order; never a request field's name (Feast would overwrite it)."""
