"""The delivery example's reason codes: why the slot was not promised (review or decline), as a dispatcher
or the customer is told. Each text names the factor the model actually scored; a category's one-hot
columns are one reason. Every model feature is in exactly one reason (the use case refuses a gap).
"""

from __future__ import annotations

from typing import Final

from steelthread_contracts.usecase import ReasonText
from steelthread_usecase_delivery.domain import CUISINES, VEHICLES

REASONS: Final[tuple[ReasonText, ...]] = (
    ReasonText("prep_time", "The restaurant's typical preparation time", ("prep_minutes_p50",)),
    ReasonText("slow_prep", "The restaurant's slowest preparation times", ("prep_minutes_p90",)),
    ReasonText("kitchen_staff", "Kitchen staff on shift", ("kitchen_staff",)),
    ReasonText("restaurant_load", "Orders the restaurant took per day this week", ("orders_per_day_7d",)),
    ReasonText(
        "courier_wait", "Couriers' waiting time at the restaurant this week", ("courier_wait_minutes_7d",)
    ),
    ReasonText(
        "late_share", "Share of the restaurant's deliveries that were late this week", ("late_share_7d",)
    ),
    ReasonText("order_value", "Order value", ("order_value", "value_per_item")),
    ReasonText("order_size", "Number of items in the order", ("order_items",)),
    ReasonText("distance", "Distance to the customer", ("trip_km", "ride_minutes")),
    ReasonText("hour", "Time of day the order was placed", ("hour_of_day", "rush_hour")),
    ReasonText("prep_and_ride", "Preparation plus riding time", ("prep_plus_ride",)),
    ReasonText("vehicle", "The courier's vehicle", tuple(f"vehicle_{v}" for v in VEHICLES)),
    ReasonText("cuisine", "The restaurant's cuisine", tuple(f"cuisine_{c}" for c in CUISINES)),
)
