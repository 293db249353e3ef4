"""Which model answers a request, given the serving mode.

- skeleton: the fallback, for everyone (the kill switch);
- shadow: `stable` (the previous champion) where there is one, else the fallback; the champion scores and is
  logged;
- canary: the champion for the canary fraction of entity keys; `stable` for the rest, else the fallback;
- live: the champion.

`stable` keeps customers on the answers they had while a new champion is shadowed or canaried: the fallback
answers them only when there was no champion before (a first model), and `GET /v1/model` says so.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from steelthread_contracts import ServingMode


class Route(StrEnum):
    """The role a request is routed to: the `role` label of the per-version metrics."""

    CHAMPION = "champion"
    STABLE = "stable"
    FALLBACK = "fallback"


def canary_bucket(key: int) -> float:
    """A stable number in [0, 1) per entity key (a customer in the credit example), so an entity stays in
    or out of the canary across requests and replicas (Python's `hash` is salted per process, so it cannot
    be used)."""
    digest = hashlib.sha256(str(key).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def champion_answers(mode: ServingMode, canary_fraction: float, key: int) -> bool:
    if mode is ServingMode.LIVE:
        return True
    if mode is ServingMode.CANARY:
        return canary_bucket(key) < canary_fraction
    return False


def route(mode: ServingMode, canary_fraction: float, key: int, has_stable: bool) -> Route:
    """The role whose model should answer `key` (the table above)."""
    if champion_answers(mode, canary_fraction, key):
        return Route.CHAMPION
    if has_stable and mode in (ServingMode.SHADOW, ServingMode.CANARY):
        return Route.STABLE
    return Route.FALLBACK


def scores_anything(mode: ServingMode) -> bool:
    """In skeleton mode (the kill switch) no model runs and no feature is read."""
    return mode is not ServingMode.SKELETON


def champion_scores(mode: ServingMode, routed: Route) -> bool:
    """The champion scores what it answers, and in shadow mode every request (logged, not answered). In
    canary mode it scores the canary share only: the other entities never wait for the new model, and a
    canary stopped at fraction 0 runs nowhere."""
    return scores_anything(mode) and (routed is Route.CHAMPION or mode is ServingMode.SHADOW)
