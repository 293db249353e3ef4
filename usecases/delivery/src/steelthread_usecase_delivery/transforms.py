"""Request-time transforms: one definition of their arithmetic, for the offline and the online path.

Feast's on-demand view calls `order_features` for `get_historical_features` (training) and for
`get_online_features`; serving's direct reader computes one row at a time with `order_row`, in plain
Python floats (numpy's per-call overhead would be most of the cost of one row). Both forms take their
arithmetic from `_minutes`, written once for floats and arrays alike, and differ only in how they branch
(np.where against if) and look up (a vectorised map against a dict). Only +, *, / are used, in the same
order, so a row gives bit-identical results alone, in a large frame, or through either form
(usecases/delivery/tests/test_transforms.py checks the two forms on generated and edge-case rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from steelthread_usecase_delivery.domain import CUISINES, NOMINAL_KMH, ORDER_FEATURES, RUSH_HOURS, VEHICLES

if TYPE_CHECKING:
    import pandas as pd

_N = TypeVar("_N", float, np.ndarray)
_NAN = float("nan")
_RUSH = np.array(sorted(RUSH_HOURS), dtype=np.float64)


def _floats(*columns: Any) -> np.ndarray:
    """The columns as rows of one float64 array (one conversion); None becomes NaN."""
    return np.array([c.to_numpy() if hasattr(c, "to_numpy") else c for c in columns], dtype=np.float64)


def _objects(values: Any) -> np.ndarray:
    raw: np.ndarray = (
        values.to_numpy(dtype=object) if hasattr(values, "to_numpy") else np.asarray(values, dtype=object)
    )
    return raw


def _one_hot(raw: np.ndarray, categories: tuple[str, ...], missing_is_nan: bool) -> np.ndarray:
    """One column per category; an unknown category is all zeros, a missing value NaN (if asked)."""
    out: np.ndarray = (raw[:, None] == np.asarray(categories, dtype=object)[None, :]).astype(np.float64)
    if missing_is_nan:
        missing = np.array([v is None or v != v for v in raw], dtype=bool)
        if missing.any():
            out[missing, :] = np.nan
    return out


_POSITION = {name: j for j, name in enumerate(ORDER_FEATURES)}
# The one-hot blocks are written as slices, so each category block must be contiguous and in order.
for _prefix, _categories in (("vehicle_", VEHICLES), ("cuisine_", CUISINES)):
    _first = _POSITION[_prefix + _categories[0]]
    if [_POSITION[_prefix + c] for c in _categories] != list(range(_first, _first + len(_categories))):
        raise RuntimeError(f"ORDER_FEATURES must keep the {_prefix}* columns together and in order")


def _minutes(value: _N, safe_items: _N, distance: _N, kmh: _N, prep: _N) -> tuple[_N, _N, _N]:
    """value_per_item, ride_minutes, prep_plus_ride: the one definition of the arithmetic, for a float row
    (`order_row`) and for array columns (`order_matrix`)."""
    ride = distance / kmh * 60.0
    return value / safe_items, ride, prep + ride


def order_row(
    basket_value: float,
    item_count: float,
    distance_km: float,
    vehicle: str,
    order_hour: float,
    cuisine: str | None,
    prep_minutes_p50: float | None,
) -> list[float]:
    """One row of `order_matrix` in plain Python floats (the online path). Same inputs and meaning, NaN
    for missing; an unknown vehicle has no nominal speed, so its ride estimate is NaN."""
    value, items, distance, hour = (
        float(basket_value),
        float(item_count),
        float(distance_km),
        float(order_hour),
    )
    prep = _NAN if prep_minutes_p50 is None else float(prep_minutes_p50)
    safe_items = items if items >= 1.0 else 1.0  # NaN, 0 or less: one item (NaN >= 1 is False, as in numpy)
    kmh = NOMINAL_KMH.get(vehicle, _NAN) if isinstance(vehicle, str) else _NAN
    value_per_item, ride, prep_plus_ride = _minutes(value, safe_items, distance, kmh, prep)
    row = [
        value,
        items,
        distance,
        hour,
        1.0 if hour in RUSH_HOURS else 0.0,
        value_per_item,
        ride,
        prep_plus_ride,
    ]
    row += [1.0 if vehicle == v else 0.0 for v in VEHICLES]
    if cuisine is None or cuisine != cuisine:  # None or NaN: unknown restaurant, not "none of"
        row += [_NAN] * len(CUISINES)
    else:
        row += [1.0 if cuisine == c else 0.0 for c in CUISINES]
    return row


def order_matrix(inputs: Mapping[str, Any] | pd.DataFrame) -> np.ndarray:
    """The request-time features as a float64 matrix in ORDER_FEATURES order.

    `inputs` maps basket_value, item_count, distance_km, vehicle, order_hour (the request) and cuisine,
    prep_minutes_p50 (stored, from the restaurant profile) to equal-length columns (Series, arrays or
    lists; None = missing). A missing profile (unknown restaurant) leaves `prep_plus_ride` and the cuisine
    columns NaN, never 0.
    """
    value, items, distance, hour, prep = _floats(
        inputs["basket_value"],
        inputs["item_count"],
        inputs["distance_km"],
        inputs["order_hour"],
        inputs["prep_minutes_p50"],
    )
    vehicles = _objects(inputs["vehicle"])
    kmh = np.array([NOMINAL_KMH.get(v, _NAN) if isinstance(v, str) else _NAN for v in vehicles], np.float64)
    safe_items = np.where(items >= 1.0, items, 1.0)
    value_per_item, ride, prep_plus_ride = _minutes(value, safe_items, distance, kmh, prep)

    matrix = np.empty((len(value), len(ORDER_FEATURES)), dtype=np.float64)
    matrix[:, _POSITION["order_value"]] = value
    matrix[:, _POSITION["order_items"]] = items
    matrix[:, _POSITION["trip_km"]] = distance
    matrix[:, _POSITION["hour_of_day"]] = hour
    matrix[:, _POSITION["rush_hour"]] = np.isin(hour, _RUSH)
    matrix[:, _POSITION["value_per_item"]] = value_per_item
    matrix[:, _POSITION["ride_minutes"]] = ride
    matrix[:, _POSITION["prep_plus_ride"]] = prep_plus_ride
    first = _POSITION[f"vehicle_{VEHICLES[0]}"]
    matrix[:, first : first + len(VEHICLES)] = _one_hot(vehicles, VEHICLES, missing_is_nan=False)
    first = _POSITION[f"cuisine_{CUISINES[0]}"]
    matrix[:, first : first + len(CUISINES)] = _one_hot(
        _objects(inputs["cuisine"]), CUISINES, missing_is_nan=True
    )
    return matrix


def order_features(inputs: pd.DataFrame) -> pd.DataFrame:
    """Compute the request-time features (the on-demand view's body, offline and online)."""
    import pandas as pd  # lazily: serving computes these online without importing pandas

    return pd.DataFrame(order_matrix(inputs), columns=list(ORDER_FEATURES), index=inputs.index)
