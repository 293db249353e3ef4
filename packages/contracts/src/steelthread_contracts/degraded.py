"""Why an answer came from the fallback: the closed set of `degraded_reason` values serving produces.

Each reason is the `reason` label of `steelthread_degraded_predictions_total`, the answer's and the
prediction log's `degraded_reason`. It lives in the contracts so the API document can publish the set as
an enum (`DegradedReason`, derived per use case by `steelthread_contracts.requests`) and clients see it.
runbooks/degraded-answers.md says what each one means and what to do; tests/runbooks checks that page
against `degraded_reasons` for every shipped use case, so a new reason cannot ship without its row. Names
only: this module imports nothing.
"""

from __future__ import annotations

from typing import Final

FEATURE_STORE_TIMEOUT: Final = "feature_store_timeout"
"""The online store did not answer within `STEELTHREAD_FEATURE_TIMEOUT_MS`."""
FEATURE_STORE_ERROR: Final = "feature_store_error"
"""The online store raised (unreachable, refused, a read error)."""
FEATURE_STORE_MISSING: Final = "feature_store_missing"
"""Serving runs without an online store configured, so a model has no features to score."""
STALE_FEATURES: Final = "stale_features"
"""A later feature view of the entity is wholly missing: its rows expired (TTL) or were never materialised."""
NO_MODEL_REASON: Final = "no_model_loaded"
"""The route asked for a model (champion, stable or canary) that is not loaded."""
MODEL_ERROR_REASON: Final = "model_error"
"""The model raised while scoring."""
INVALID_SCORE_REASON: Final = "invalid_score"
"""The model returned NaN or a score outside the use case's score range."""


def unknown_entity(entity: str) -> str:
    """The reason when the store knows no features of the key: `unknown_<entity>` (`unknown_customer`)."""
    return f"unknown_{entity}"


def degraded_reasons(entity: str) -> frozenset[str]:
    """Every reason serving can give for a use case whose entity is named `entity`."""
    return frozenset(
        {
            FEATURE_STORE_TIMEOUT,
            FEATURE_STORE_ERROR,
            FEATURE_STORE_MISSING,
            STALE_FEATURES,
            NO_MODEL_REASON,
            MODEL_ERROR_REASON,
            INVALID_SCORE_REASON,
            unknown_entity(entity),
        }
    )
