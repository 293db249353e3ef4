"""Point-in-time features for a part of the input, through the feature library (local engine).

Rows whose keys or request fields are unusable are quarantined before the join (the feature library
rejects a whole frame for one bad row); the others get the use case's feature service's features as of
their own event time, exactly as training does. Each part is joined on its own: every row's join depends
only on that row, so splitting the input does not change any value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from steelthread_batch.columns import (
    ENTITY_KEY,
    EVENT_TIMESTAMP,
    QUARANTINE_REASON,
    REQUEST_FIELDS,
    REQUEST_ID,
)
from steelthread_batch.scoring import normalise
from steelthread_batch.validation import row_reasons

if TYPE_CHECKING:
    from steelthread_features.settings import FeatureSettings

ENTITY_COLUMNS = (REQUEST_ID, ENTITY_KEY, EVENT_TIMESTAMP, *REQUEST_FIELDS)


def join_features(
    table: pa.Table, feature_names: Sequence[str], settings: FeatureSettings | None
) -> pa.Table:
    """The input's entity columns plus features (float64) and `quarantine_reason`, row order kept."""
    from steelthread_features import store

    batch = normalise(table.select([c for c in table.column_names]).combine_chunks().to_batches()[0])
    entity = pa.Table.from_batches([batch]).select(list(ENTITY_COLUMNS))
    reasons = row_reasons(batch)
    ok = reasons.ok
    values = np.full((entity.num_rows, len(feature_names)), np.nan, dtype=np.float64)
    if ok.any():
        valid = entity.filter(pa.array(ok))
        frame = store.training_frame(valid.to_pandas(), settings=settings, features=list(feature_names))
        for j, name in enumerate(feature_names):
            values[ok, j] = frame[name].to_numpy(dtype=np.float64)
    columns = {name: entity.column(name) for name in ENTITY_COLUMNS}
    for j, name in enumerate(feature_names):
        columns[name] = pa.chunked_array([pa.array(values[:, j], mask=np.isnan(values[:, j]))])
    columns[QUARANTINE_REASON] = pa.chunked_array([reasons.array()])
    return pa.table(columns)
