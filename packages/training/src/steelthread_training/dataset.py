"""Stage 1: the labelled training frame, built through the feature service at each event's time.

Every table and column name comes from the active use case's declaration (`tables`, `views`,
`derived_slices`). Labels arrive after the event; only labels recorded by `labels_as_of` are used, so a run
can be replayed exactly as it was on a given day.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pandas.api.types import is_numeric_dtype

from steelthread_contracts.package import Task
from steelthread_contracts.usecase import load_hook
from steelthread_features import generator
from steelthread_training.errors import DataMissingError, TrainingError
from steelthread_training.frame import LABEL, MODEL_FEATURES, REQUEST_ID, TIME, USE_CASE
from steelthread_training.settings import TrainingSettings

TABLES = USE_CASE.tables


@dataclass(frozen=True)
class TrainingSet:
    frame: pd.DataFrame
    fingerprint: str
    source: str


def generate_hint(data_dir: Path) -> str:
    return (
        f"no generated data in {data_dir}: run `steelthread-data generate --out {data_dir}` "
        "(or `steelthread-train run --generate`)"
    )


def label_events(
    events: pd.DataFrame, labels: pd.DataFrame, labels_as_of: datetime | None = None
) -> pd.DataFrame:
    """Events (`tables.events`) with a label known by `labels_as_of` (all labels when None), oldest first.

    The label column (`tables.label`) becomes `label`; a request labelled twice keeps its latest label.
    """
    if labels_as_of is not None and labels_as_of.tzinfo is None:
        raise TrainingError("labels_as_of must be timezone-aware")
    known = labels
    if labels_as_of is not None:
        known = labels[labels[TABLES.label_time] <= pd.Timestamp(labels_as_of)]
    known = known.drop_duplicates(REQUEST_ID, keep="last")[[REQUEST_ID, TABLES.label]]
    joined = events.merge(known, on=REQUEST_ID, how="inner", validate="one_to_one")
    joined = joined.rename(columns={TABLES.label: LABEL})
    if USE_CASE.task is Task.MULTICLASS and USE_CASE.classes and not is_numeric_dtype(joined[LABEL]):
        joined[LABEL] = _class_indices(joined[LABEL])
    if USE_CASE.task is not Task.REGRESSION:  # class labels are integers; a regression target stays as is
        joined[LABEL] = joined[LABEL].astype("int64")
    return joined.sort_values([TABLES.event_time, REQUEST_ID], kind="stable").reset_index(drop=True)


def _class_indices(labels: pd.Series) -> pd.Series:
    """Class names (the use case's `classes`) as their index in the model's output order."""
    index = {name: i for i, name in enumerate(USE_CASE.classes)}
    unknown = sorted(set(labels.astype(str)) - set(index))
    if unknown:
        raise TrainingError(
            f"labels {unknown[:5]} in {TABLES.labels}.{TABLES.label} are not classes of use case "
            f"{USE_CASE.name!r} ({', '.join(USE_CASE.classes)})"
        )
    return labels.astype(str).map(index)


def entity_frame(labelled: pd.DataFrame) -> pd.DataFrame:
    """The labelled events as the feature store's entity frame: the event time becomes `event_timestamp`."""
    if TABLES.event_time not in labelled.columns:
        raise TrainingError(f"the {TABLES.events} table has no event time column {TABLES.event_time!r}")
    return labelled.rename(columns={TABLES.event_time: TIME})


def add_derived_slices(frame: pd.DataFrame, options: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The use case's derived slice columns (its `derived_slices` hook with `slices.options`), if any."""
    if USE_CASE.derived_slices is None:
        if options:
            raise TrainingError(
                f"slices.options given, but use case {USE_CASE.name!r} declares no derived_slices hook"
            )
        return frame
    hook = load_hook(USE_CASE.derived_slices)
    try:
        out = hook(frame, dict(options or {}))
    except (KeyError, ValueError, TypeError) as exc:
        raise TrainingError(f"derived slices ({USE_CASE.derived_slices}) failed: {exc}") from None
    if not isinstance(out, pd.DataFrame) or len(out) != len(frame):
        raise TrainingError(f"derived slices ({USE_CASE.derived_slices}) must return the frame, one row each")
    return out


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 over the frame's values and column names: the same data gives the same fingerprint."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def build_training_set(
    settings: TrainingSettings,
    *,
    rows: int | None = None,
    labels_as_of: datetime | None = None,
    slice_options: Mapping[str, Any] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> TrainingSet:
    """Read the generated events and labels, join features point in time, add slice attributes.

    `rows` keeps the most recent labelled events (so a small run still sees current data);
    `slice_options` is training.yaml's `slices.options`, handed to the use case's derived-slices hook.
    """
    from steelthread_features import store

    data_dir = settings.tables_dir
    if settings.profile == "local" and not all((data_dir / t).is_dir() for t in USE_CASE.tables_to_generate):
        raise DataMissingError(generate_hint(data_dir))
    events = generator.read(data_dir, TABLES.events)
    labels = generator.read(data_dir, TABLES.labels)
    labelled = label_events(events, labels, labels_as_of)
    if rows is not None:
        labelled = labelled.tail(rows).reset_index(drop=True)
    if labelled.empty:
        raise DataMissingError(f"no labelled {TABLES.events} in {data_dir} (labels as of {labels_as_of})")
    entities = entity_frame(labelled)
    features = settings.feature_settings()
    try:
        frame = store.training_frame(entities, settings=features, with_slices=True)
    except store.FeatureRetrievalError as exc:
        if "apply" not in str(exc):
            raise
        if on_note is not None:
            on_note(f"feature registry not found in {features.feast_dir}: applying the feature repo")
        store.apply(features)
        frame = store.training_frame(entities, settings=features, with_slices=True)
    frame = add_derived_slices(frame, slice_options)
    columns = [REQUEST_ID, TIME, *MODEL_FEATURES]
    return TrainingSet(
        frame=frame,
        fingerprint=fingerprint(frame[[*columns, LABEL]]),
        source=str(data_dir),
    )
