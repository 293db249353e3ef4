"""Which model answers a request, given the serving mode."""

from __future__ import annotations

import hashlib

from steelthread_contracts import ServingMode


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


def champion_scores(mode: ServingMode) -> bool:
    """In every mode but skeleton the champion computes a score (answered or only logged)."""
    return mode is not ServingMode.SKELETON
