"""Training/serving skew: logged serving features against the same features recomputed offline.

The monitoring job does not know how features are computed; it asks an `OfflineFeatureSource` for a sample
of requests. The feature library plugs in with a function that calls its `training_frame` (point-in-time
join as of each request's `logged_at`), and the CLI loads such a function from `module:attribute` or
reads a frame someone already recomputed from parquet. Any mismatch beyond the tolerance is skew.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from steelthread_monitoring.errors import InvalidInputError

OfflineFeatureSource = Callable[[pd.DataFrame], pd.DataFrame]
"""Takes requests (columns request_id, the entity key under the active use case's join-key name, logged_at
and the logged request fields) and returns one row per request_id it could recompute, with a `request_id`
column and the feature columns."""


@dataclass
class SkewResult:
    sampled: int
    compared: int
    skewed_rows: int
    feature_skew_share: dict[str, float] = field(default_factory=dict)

    @property
    def skew_share(self) -> float:
        return self.skewed_rows / self.compared if self.compared else 0.0


def parquet_source(path: Path) -> OfflineFeatureSource:
    """Offline features already recomputed by another job, read from parquet."""

    def load(requests: pd.DataFrame) -> pd.DataFrame:
        if not path.is_file():
            raise InvalidInputError(f"offline features file {path} does not exist")
        frame = pd.read_parquet(path)
        if "request_id" not in frame.columns:
            raise InvalidInputError(f"offline features file {path} has no request_id column")
        return frame[frame["request_id"].isin(requests["request_id"])]

    return load


def callable_source(spec: str) -> OfflineFeatureSource:
    """Load `package.module:function` so deployments wire their feature library without code here."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise InvalidInputError(f"--offline-features-fn must look like 'module:function', got {spec!r}")
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise InvalidInputError(f"cannot load offline feature function {spec!r}: {exc}") from exc
    if not callable(target):
        raise InvalidInputError(f"{spec!r} is not callable")
    source: OfflineFeatureSource = target
    return source


def measure_skew(
    window: pd.DataFrame,
    requests: pd.DataFrame,
    features: list[str],
    source: OfflineFeatureSource,
    sample_size: int,
    rtol: float,
    atol: float,
    seed: int = 0,
) -> SkewResult:
    """Share of sampled requests where any feature differs between serving and offline computation."""
    rows = np.random.default_rng(seed).choice(len(window), size=min(sample_size, len(window)), replace=False)
    sample = window.iloc[rows]
    offline = source(requests.iloc[rows].reset_index(drop=True))
    if "request_id" not in offline.columns:
        raise InvalidInputError("offline features frame has no request_id column")
    shared = [f for f in features if f in offline.columns and f in sample.columns]
    if not shared:
        raise InvalidInputError(
            "offline features frame has none of the reference's feature columns "
            f"({', '.join(features[:5])}...)"
        )
    joined = sample[["request_id", *shared]].merge(
        offline[["request_id", *shared]].drop_duplicates("request_id"),
        on="request_id",
        suffixes=("_serving", "_offline"),
    )
    mismatch = np.zeros(len(joined), dtype=bool)
    per_feature: dict[str, float] = {}
    for name in shared:
        served = pd.to_numeric(joined[f"{name}_serving"], errors="coerce").to_numpy(np.float64)
        offline_values = pd.to_numeric(joined[f"{name}_offline"], errors="coerce").to_numpy(np.float64)
        same = np.isclose(served, offline_values, rtol=rtol, atol=atol, equal_nan=True)
        per_feature[name] = float((~same).mean()) if len(joined) else 0.0
        mismatch |= ~same
    return SkewResult(
        sampled=len(sample),
        compared=len(joined),
        skewed_rows=int(mismatch.sum()),
        feature_skew_share=per_feature,
    )
