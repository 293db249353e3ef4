"""The offline side of the training/serving skew check, for `steelthread-monitor --offline-features-fn
steelthread_features.monitoring:recompute`.

The monitoring job hands over a sample of logged requests; this recomputes their features point in time (as of
each request's `logged_at`) through the same `training_frame` training uses, so any difference from what
serving logged is real skew, not a second implementation disagreeing with the first.
"""

from __future__ import annotations

import pandas as pd

from steelthread_features.definitions import EVENT_TIMESTAMP, FEATURE_NAMES
from steelthread_features.store import training_frame


def recompute(requests: pd.DataFrame) -> pd.DataFrame:
    """`request_id` plus the feature columns for each sampled request (columns `request_id`, `logged_at`,
    the entity's join key and the use case's request fields: the prediction log's names)."""
    entities = requests.rename(columns={"logged_at": EVENT_TIMESTAMP})
    entities[EVENT_TIMESTAMP] = pd.to_datetime(entities[EVENT_TIMESTAMP], utc=True).astype(
        "datetime64[us, UTC]"
    )
    frame = training_frame(entities)
    return frame[["request_id", *FEATURE_NAMES]]
