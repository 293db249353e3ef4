"""The request-time transform: its row form (serving) and frame form (Feast, training) are bit-identical,
alone or in a frame, on generated rows and on edge cases; missing profiles stay NaN, never 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from steelthread_usecase_delivery.domain import CUISINES, NOMINAL_KMH, ORDER_FEATURES, VEHICLES
from steelthread_usecase_delivery.generator import generate
from steelthread_usecase_delivery.transforms import order_features, order_row

INPUTS = ("basket_value", "item_count", "distance_km", "vehicle", "order_hour", "cuisine", "prep_minutes_p50")


def _generated_inputs(rows: int = 2_000) -> pd.DataFrame:
    data = generate(rows, seed=9)
    profile = data.restaurants.set_index("restaurant_id")
    orders = data.orders.join(profile[["cuisine", "prep_minutes_p50"]], on="restaurant_id")
    return orders[list(INPUTS)]


def _assert_rows_match(inputs: pd.DataFrame) -> None:
    matrix = order_features(inputs).to_numpy()
    for i, row in enumerate(inputs.to_dict("records")):
        alone = np.array(order_row(**row), dtype=np.float64)
        assert np.array_equal(alone, matrix[i], equal_nan=True), (
            row,
            dict(zip(ORDER_FEATURES, zip(alone, matrix[i], strict=True), strict=True)),
        )


def test_row_form_equals_frame_form_bit_for_bit_on_generated_orders() -> None:
    _assert_rows_match(_generated_inputs())


def test_a_row_alone_equals_the_same_row_in_a_frame() -> None:
    inputs = _generated_inputs()
    batch = order_features(inputs).to_numpy()
    for i in np.random.default_rng(0).choice(len(inputs), 25, replace=False):
        alone = order_features(inputs.iloc[[i]]).to_numpy()[0]
        assert np.array_equal(alone, batch[i], equal_nan=True)


def test_the_transform_computes_what_its_names_say() -> None:
    inputs = pd.DataFrame(
        {
            "basket_value": [30.0, 30.0, 30.0],
            "item_count": [3, 0, 2],
            "distance_km": [6.0, 0.0, 3.0],
            "vehicle": ["car", "bike", "hovercraft"],
            "order_hour": [19, 15, 12],
            "cuisine": ["sushi", None, "tapas"],
            "prep_minutes_p50": [10.0, None, 5.0],
        }
    )
    out = order_features(inputs)
    assert out.loc[0, "ride_minutes"] == 6.0 / NOMINAL_KMH["car"] * 60.0 == 12.0
    assert out.loc[0, "prep_plus_ride"] == 22.0
    assert out.loc[0, "value_per_item"] == 10.0
    assert out.loc[0, ["rush_hour", "vehicle_car", "cuisine_sushi"]].tolist() == [1.0, 1.0, 1.0]
    assert out.loc[1, "value_per_item"] == 30.0, "no items counts as one, never a division by zero"
    assert out.loc[1, "rush_hour"] == 0.0
    assert np.isnan(out.loc[1, "prep_plus_ride"]), "an unknown restaurant's prep time stays missing"
    assert out.loc[1, [f"cuisine_{c}" for c in CUISINES]].isna().all()
    assert out.loc[2, [f"vehicle_{v}" for v in VEHICLES]].sum() == 0.0
    assert np.isnan(out.loc[2, "ride_minutes"]), "an unknown vehicle has no nominal speed"
    assert out.loc[2, [f"cuisine_{c}" for c in CUISINES]].sum() == 0.0, "unknown cuisine: none of, not NaN"
    assert list(out.columns) == list(ORDER_FEATURES)


_NUMBER = st.one_of(
    st.floats(0.0, 1e6, allow_nan=False),
    st.sampled_from([0.0, 1e-300, 5e-324, 1.0 - 1e-16, 1e300]),
)
_ROW = st.fixed_dictionaries(
    {
        "basket_value": _NUMBER,
        "item_count": st.sampled_from([0, 1, 2, 3, 7, 100, -1]),
        "distance_km": _NUMBER,
        "vehicle": st.sampled_from([*VEHICLES, "hovercraft", ""]),
        "order_hour": st.integers(-1, 24),
        "cuisine": st.sampled_from([*CUISINES, "tapas", None, float("nan")]),
        "prep_minutes_p50": st.one_of(st.none(), _NUMBER),
    }
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ROW, min_size=1, max_size=20))
def test_row_transform_is_bit_identical_to_the_frame_on_edge_cases(rows) -> None:
    """Serving computes one row in plain Python, training and the on-demand view a whole frame in numpy:
    any difference is training/serving skew."""
    _assert_rows_match(pd.DataFrame(rows))
