"""Stage 1: the labelled training frame, built through the feature service at each application's time.

Labels arrive months after an application; only labels recorded by `labels_as_of` are used, so a run can
be replayed exactly as it was on a given day.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd

from steelthread_features import generator
from steelthread_features.validation import entity_frame
from steelthread_training.errors import DataMissingError, TrainingError
from steelthread_training.frame import INCOME_BAND, LABEL, MODEL_FEATURES, REQUEST_ID, TIME
from steelthread_training.settings import TrainingSettings


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


def label_applications(
    applications: pd.DataFrame, labels: pd.DataFrame, labels_as_of: datetime | None = None
) -> pd.DataFrame:
    """Applications with a label known by `labels_as_of` (all labels when None), oldest first."""
    if labels_as_of is not None and labels_as_of.tzinfo is None:
        raise TrainingError("labels_as_of must be timezone-aware")
    known = labels
    if labels_as_of is not None:
        known = labels[labels["label_timestamp"] <= pd.Timestamp(labels_as_of)]
    known = known.drop_duplicates(REQUEST_ID, keep="last")[[REQUEST_ID, "defaulted"]]
    joined = applications.merge(known, on=REQUEST_ID, how="inner", validate="one_to_one")
    joined = joined.rename(columns={"defaulted": LABEL})
    joined[LABEL] = joined[LABEL].astype("int64")
    return joined.sort_values(["application_timestamp", REQUEST_ID], kind="stable").reset_index(drop=True)


def income_band(income: pd.Series, bands: Sequence[float]) -> pd.Series:
    """Human-readable income bands; zero or missing income is its own band ('none')."""
    edges = [float(b) for b in bands]
    labels = [f"<{edges[0]:.0f}"]
    labels += [f"{lo:.0f}-{hi:.0f}" for lo, hi in pairwise(edges)]
    labels.append(f">={edges[-1]:.0f}")
    values = income.to_numpy(dtype=np.float64)
    idx = np.searchsorted(np.asarray(edges), values, side="right")
    out = np.asarray(labels, dtype=object)[np.clip(idx, 0, len(labels) - 1)]
    out[~(values > 0)] = "none"
    return pd.Series(out, index=income.index, name=INCOME_BAND, dtype="object")


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
    income_bands: Sequence[float] = (25_000.0, 50_000.0, 100_000.0),
    on_note: Callable[[str], None] | None = None,
) -> TrainingSet:
    """Read generated applications and labels, join features point in time, add slice attributes.

    `rows` keeps the most recent labelled applications (so a small run still sees current data).
    """
    from steelthread_features import store

    data_dir = settings.resolved_features_data_dir()
    if settings.profile == "local" and not all(
        (data_dir / t).is_dir() for t in ("applications", "labels", "customers", "credit_history")
    ):
        raise DataMissingError(generate_hint(data_dir))
    applications = generator.read(data_dir, "applications")
    labels = generator.read(data_dir, "labels")
    labelled = label_applications(applications, labels, labels_as_of)
    if rows is not None:
        labelled = labelled.tail(rows).reset_index(drop=True)
    if labelled.empty:
        raise DataMissingError(f"no labelled applications in {data_dir} (labels as of {labels_as_of})")
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
    frame[INCOME_BAND] = income_band(frame["income"], income_bands)
    keep = [c for c in frame.columns if c not in {"application_timestamp"}]
    frame = frame[keep]
    columns = [REQUEST_ID, TIME, *MODEL_FEATURES]
    return TrainingSet(
        frame=frame,
        fingerprint=fingerprint(frame[[*columns, LABEL]]),
        source=str(data_dir),
    )
