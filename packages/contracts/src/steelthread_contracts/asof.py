"""A use case's model feature frame from its generated tables, with pandas alone: the stand-in for Feast.

An as-of join per feature view (the latest row at or before the event, within the view's TTL, the later
`created_timestamp` winning a tie), then the request-time transform and the label, all named by the
`UseCase` declaration. A use case's own tests use it: the model tests train on what Feast would serve
without paying for Feast, and the delivery example's plumbing test checks Feast's point-in-time join
against it. It lives here, not in the root tests' helpers, because a use case's tests run with only that
use case and what it declares installed (CI job `usecases`); both examples, and a fork's use case,
declare the `tables` extra it needs. pandas is imported inside the functions, as in `tables`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from steelthread_contracts.usecase import UseCase, load_hook

if TYPE_CHECKING:
    import pandas as pd


class GeneratedTables(Protocol):
    """What a use case's generator returns: each of its tables by name."""

    def table(self, name: str) -> pd.DataFrame: ...


def as_of(
    events: pd.DataFrame,
    table: pd.DataFrame,
    columns: tuple[str, ...],
    ttl: timedelta,
    *,
    key: str,
    event: str,
    created: str,
) -> pd.DataFrame:
    """`columns` of `table` as of each event's `event` time, per `key` (NaN past the TTL or before the first
    row), in the events' row order."""
    import pandas as pd

    left = events[[key, event]].reset_index(names="_row").sort_values(event, kind="stable")
    right = table.sort_values([event, created], kind="stable").drop_duplicates([key, event], keep="last")
    right = right[[key, event, *columns]].rename(columns={event: "_feature_time"})
    right[event] = right["_feature_time"]
    joined = pd.merge_asof(left, right, on=event, by=key, direction="backward")
    expired = joined[event] - joined["_feature_time"] > pd.Timedelta(ttl)
    joined.loc[expired, list(columns)] = float("nan")
    frame: pd.DataFrame = joined.sort_values("_row").set_index("_row")[list(columns)].rename_axis(None)
    return frame


def feature_frame(use_case: UseCase, data: GeneratedTables) -> pd.DataFrame:
    """The events with every view's columns as of their time, the request-time features and the label."""
    import pandas as pd

    tables = use_case.tables
    event = tables.event_timestamp
    events = data.table(tables.events).rename(columns={tables.event_time: event})
    parts = [events]
    for view in use_case.views:
        parts.append(
            as_of(
                events,
                data.table(view.table),
                view.columns,
                view.ttl,
                key=use_case.join_key,
                event=event,
                created=tables.created_timestamp,
            )
        )
    frame = pd.concat(parts, axis=1)
    request_time: pd.DataFrame = load_hook(use_case.on_demand.frame)(frame)
    frame = pd.concat([frame, request_time], axis=1)
    labels = data.table(tables.labels).set_index(tables.request_id)[tables.label]
    frame[tables.label] = frame[tables.request_id].map(labels).to_numpy()
    return frame
