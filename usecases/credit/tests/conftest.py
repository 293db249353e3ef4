"""Shared fixtures of the credit example's tests.

`feature_frame` builds the model's feature frame from generated tables with pandas alone: an as-of join per
view (latest row at or before the application, within the view's TTL, the later `created_timestamp` winning
a tie) plus the request-time transform, so the model test trains on what Feast would serve without paying
for Feast (tests/features checks Feast's point-in-time join against the same kind of reference).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from steelthread_usecase_credit import USE_CASE
from steelthread_usecase_credit.generator import GeneratedData
from steelthread_usecase_credit.transforms import application_features

EVENT = USE_CASE.tables.event_timestamp
CREATED = USE_CASE.tables.created_timestamp
KEY = USE_CASE.join_key


def as_of(
    events: pd.DataFrame, table: pd.DataFrame, columns: tuple[str, ...], ttl: pd.Timedelta
) -> pd.DataFrame:
    """`columns` of `table` as of each event's time (NaN past the TTL or before the first row)."""
    left = events[[KEY, EVENT]].reset_index(names="_row").sort_values(EVENT, kind="stable")
    right = table.sort_values([EVENT, CREATED], kind="stable").drop_duplicates([KEY, EVENT], keep="last")
    right = right[[KEY, EVENT, *columns]].rename(columns={EVENT: "_feature_time"})
    right[EVENT] = right["_feature_time"]
    joined = pd.merge_asof(left, right, on=EVENT, by=KEY, direction="backward")
    expired = joined[EVENT] - joined["_feature_time"] > ttl
    joined.loc[expired, list(columns)] = float("nan")
    return joined.sort_values("_row").set_index("_row")[list(columns)].rename_axis(None)


def feature_frame(data: GeneratedData) -> pd.DataFrame:
    """Applications with every model feature (declared order) and the label, oldest first."""
    events = data.applications.rename(columns={USE_CASE.tables.event_time: EVENT})
    parts = [events]
    for view in USE_CASE.views:
        parts.append(as_of(events, data.table(view.table), view.columns, pd.Timedelta(view.ttl)))
    frame = pd.concat(parts, axis=1)
    frame = pd.concat([frame, application_features(frame)], axis=1)
    labels = data.labels.set_index(USE_CASE.tables.request_id)[USE_CASE.tables.label]
    frame[USE_CASE.tables.label] = frame[USE_CASE.tables.request_id].map(labels).to_numpy()
    return frame


@pytest.fixture(scope="session")
def frame_of() -> Callable[[GeneratedData], pd.DataFrame]:
    """`feature_frame`, for tests (a conftest is not importable under --import-mode=importlib)."""
    return feature_frame
