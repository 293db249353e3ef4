"""Point-in-time hard cases for the active use case: rows of its own tables that set every trap.

The view with the shortest TTL plays the history (ties on event time, a row one microsecond in the future,
both edges of the TTL); the other views play the profile (absent, or only after the entity time). Each row
is a generated row of its table with the key, the times and the history's feature values replaced, so the
cases need no use case's names (tests/features/conftest.py writes them beside the generated tables).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from helpers.usecase import example_request
from steelthread_contracts.usecase import FeatureView
from steelthread_features.definitions import CREATED_TIMESTAMP, EVENT_TIMESTAMP, JOIN_KEY, USE_CASE

HARD_BASE = 10_000_000
E = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
"""Entity time of the hard cases."""
HISTORY: FeatureView = min(USE_CASE.views, key=lambda view: view.ttl)
"""The view with the shortest TTL: its rows are the point-in-time traps (ties, leaks, the TTL's edges)."""
PROFILES: tuple[FeatureView, ...] = tuple(view for view in USE_CASE.views if view is not HISTORY)
"""The other views: present for most hard cases, absent or only later for two of them."""
HISTORY_FEATURE = HISTORY.features[0]
"""The history feature whose value each hard case names (the k-th history feature holds value + k/10)."""
CASES = (
    "after_only",
    "expired",
    "tie",
    "no_history",
    "nothing",
    "leak",
    "exact",
    "ttl_edge",
    "profile_after",
    "just_expired",
)
NO_PROFILE = frozenset({"nothing", "profile_after"})
"""Hard cases with no profile row at or before E."""


def _template(data: Any, table: str) -> dict[str, Any]:
    """The first generated row of a table: valid values of the use case's own types and categories, for
    the columns a hard case does not set itself."""
    row = data.table(table).iloc[0]
    return {c: (None if pd.isna(v) else v) for c, v in row.items()}


def template_columns(data: Any, view: FeatureView) -> dict[str, Any]:
    template = _template(data, view.table)
    return {c: template[c] for c in view.columns}


def history_values(value: float) -> dict[str, float]:
    return {name: value + k / 10 for k, name in enumerate(HISTORY.features)}


def _row(data: Any, view: FeatureView, key: int, at: datetime, created: datetime) -> dict[str, object]:
    return _template(data, view.table) | {JOIN_KEY: key, EVENT_TIMESTAMP: at, CREATED_TIMESTAMP: created}


def hard_cases(
    data: Any,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, dict[str, float | None], dict[str, Any]]:
    """Rows per table (the views' tables), entity rows and expectations covering every point-in-time trap."""
    c = {name: HARD_BASE + i for i, name in enumerate(CASES, start=1)}
    day = timedelta(days=1)
    ttl = HISTORY.ttl

    def history(case: str, at: datetime, created: datetime, value: float) -> dict[str, object]:
        return _row(data, HISTORY, c[case], at, created) | history_values(value)

    rows: dict[str, list[dict[str, object]]] = {view.table: [] for view in USE_CASE.views}
    rows[HISTORY.table] = [
        history("after_only", E + day, E + day, 1.0),
        history("expired", E - ttl - day, E - ttl - day, 2.0),
        # Same event time: the later created_timestamp wins, whatever the file order.
        history("tie", E - 5 * day, E - 5 * day + timedelta(hours=2), 32.0),
        history("tie", E - 5 * day, E - 5 * day + timedelta(hours=1), 31.0),
        history("leak", E - 10 * day, E - 10 * day, 60.0),
        history("leak", E + timedelta(microseconds=1), E, 999.0),
        history("exact", E - day, E - day, 70.0),
        history("exact", E, E, 71.0),
        history("ttl_edge", E - ttl, E - ttl, 80.0),
        history("just_expired", E - ttl - timedelta(microseconds=1), E, 90.0),
        history("profile_after", E - day, E - day, 95.0),
    ]
    profiles: dict[str, Any] = {}
    for view in PROFILES:
        since = E - min(view.ttl / 2, 400 * day)
        rows[view.table] = [
            _row(data, view, key, since, since) for case, key in c.items() if case not in NO_PROFILE
        ]
        rows[view.table].append(_row(data, view, c["profile_after"], E + day, E + day))
        profiles |= template_columns(data, view)
    names = [*c.keys(), "tie", "leak"]
    times = [E] * len(c) + [E, E + 2 * day]
    request = example_request()
    entities = pd.DataFrame(
        {
            "case": names,
            JOIN_KEY: [c[n] for n in names],
            EVENT_TIMESTAMP: pd.Series(times).astype("datetime64[us, UTC]"),
            **{name: request[name] for name in USE_CASE.request_names},
        }
    )
    expected: dict[str, float | None] = {
        "after_only": None,
        "expired": None,
        "tie": 32.0,
        "no_history": None,
        "nothing": None,
        "leak": 60.0,
        "exact": 71.0,
        "ttl_edge": 80.0,
        "profile_after": 95.0,
        "just_expired": None,
    }
    return {t: pd.DataFrame(r) for t, r in rows.items()}, entities, expected, profiles
