"""The offline side of the training/serving skew check, for `steelthread-monitor --offline-features-fn
steelthread_features.monitoring:recompute`.

The monitoring job hands over a sample of logged requests; this recomputes their features point in time (as of
each request's `logged_at`) through the same `training_frame` training uses, so any difference from what
serving logged is real skew, not a second implementation disagreeing with the first.

Under the use case's privacy policy (steelthread_contracts.privacy) the log holds pseudonyms, not entity keys,
and leaves dropped fields out. The keys are found again the way the log made them: every key of the entity's
table is pseudonymised with the deployment's secret and matched. A dropped field cannot be recomputed from the
log, so the features it decides are not compared: the dropped features themselves and, when the request-time
transform reads a dropped field, every request-time feature (the stored features still are).
"""

from __future__ import annotations

import pandas as pd

from steelthread_contracts.privacy import LogPolicy
from steelthread_contracts.usecase import RequestField
from steelthread_features.definitions import EVENT_TIMESTAMP, FEATURE_NAMES, JOIN_KEY, USE_CASE
from steelthread_features.settings import FeatureSettings
from steelthread_features.store import training_frame


def compared_features(policy: LogPolicy) -> list[str]:
    """The features the skew check can recompute from what the log keeps."""
    transform = USE_CASE.on_demand
    blind = bool(policy.dropped & {*USE_CASE.request_names, *transform.stored_inputs})
    return [f for f in FEATURE_NAMES if f not in policy.dropped and not (blind and f in transform.features)]


def entity_keys(pseudonyms: pd.Series, policy: LogPolicy, settings: FeatureSettings) -> pd.Series:
    """The entity keys behind logged pseudonyms: each key of the entity's own table (the first feature
    view's), pseudonymised as the log did; a pseudonym no key gives maps to 0, a key no entity has."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    table = ds.dataset(f"{settings.offline_root()}/{USE_CASE.views[0].table}", format="parquet")
    keys = pc.unique(table.to_table(columns=[JOIN_KEY]).column(JOIN_KEY)).to_pylist()
    back = {policy.key(int(k)): int(k) for k in keys if k is not None}
    return pseudonyms.map(back).fillna(0).astype("int64")


def _stand_in(field: RequestField) -> float | int | str:
    """A value the entity frame accepts for a request field the log never kept (missing for a number)."""
    if field.kind == "number":
        return float("nan")
    if field.kind == "integer":
        return int(field.ge or field.gt or 0)
    return field.choices[0]  # a choice is an int or a str


def recompute(requests: pd.DataFrame) -> pd.DataFrame:
    """`request_id` plus the feature columns for each sampled request (columns `request_id`, `logged_at`,
    the entity's join key and the use case's request fields: the prediction log's names)."""
    settings = FeatureSettings()
    policy = settings.log_policy(USE_CASE)
    entities = requests.rename(columns={"logged_at": EVENT_TIMESTAMP})
    entities[EVENT_TIMESTAMP] = pd.to_datetime(entities[EVENT_TIMESTAMP], utc=True).astype(
        "datetime64[us, UTC]"
    )
    if policy.hash_key:
        entities[JOIN_KEY] = entity_keys(entities[JOIN_KEY], policy, settings)
    for field in USE_CASE.request_fields:
        if field.name in policy.dropped:  # never logged: a stand-in, whose features are not compared
            entities[field.name] = _stand_in(field)
    frame = training_frame(entities, settings=settings)
    return frame[["request_id", *compared_features(policy)]]
