"""The credit example's derived evaluation slices: columns computed from the training frame, never model
inputs.

Training calls `add_derived_slices` through the declaration's `derived_slices` import path, after the
point-in-time join, with the `slices.options` block of the use case's training.yaml; the notebooks import
`income_band` directly (docs/notebook-to-package.md tells how it got here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any, Final

import numpy as np
import pandas as pd

from steelthread_usecase_credit.domain import INCOME_BAND

INCOME_BANDS: Final[tuple[float, ...]] = (25_000.0, 50_000.0, 100_000.0)
"""Band edges when training.yaml gives none (`slices.options.income_bands`)."""
INCOME_COLUMN: Final = "income"
"""The request-time feature the band is cut from (the declared income, NaN when missing)."""


def income_band(income: pd.Series, bands: Sequence[float] = INCOME_BANDS) -> pd.Series:
    """Human-readable income bands; zero or missing income is its own band ('none')."""
    edges = [float(b) for b in bands]
    if not edges or edges != sorted(edges):
        raise ValueError(f"income bands must be ascending edges, got {list(bands)}")
    labels = [f"<{edges[0]:.0f}"]
    labels += [f"{lo:.0f}-{hi:.0f}" for lo, hi in pairwise(edges)]
    labels.append(f">={edges[-1]:.0f}")
    values = income.to_numpy(dtype=np.float64)
    idx = np.searchsorted(np.asarray(edges), values, side="right")
    out = np.asarray(labels, dtype=object)[np.clip(idx, 0, len(labels) - 1)]
    out[~(values > 0)] = "none"
    return pd.Series(out, index=income.index, name=INCOME_BAND, dtype="object")


def add_derived_slices(frame: pd.DataFrame, options: Mapping[str, Any]) -> pd.DataFrame:
    """The training frame with `income_band` appended (edges from `options["income_bands"]`)."""
    unknown = set(options) - {"income_bands"}
    if unknown:
        raise ValueError(f"unknown slice option(s) for the credit use case: {', '.join(sorted(unknown))}")
    bands = options.get("income_bands") or INCOME_BANDS
    out = frame.copy()
    out[INCOME_BAND] = income_band(frame[INCOME_COLUMN], bands)
    return out
