"""Fixed inputs (the use case's smoke cases) whose scores any acceptable model must place in known ranges.

They are the package's smoke test: training checks the bounds (an ML sanity test a metric cannot give:
an obviously risky applicant must score high), and serving re-scores the stored vectors on load and
compares with the expected scores to prove that it runs the same model on the same feature order.
The request-time features come from the use case's own transform, so they match serving's path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from steelthread_contracts.usecase import SmokeCase, active, load_hook
from steelthread_training.frame import MODEL_FEATURES

USE_CASE = active()

SCORE_TOLERANCE: Final = 1e-5
"""How far serving's onnxruntime score may be from the stored expected score (same float32 graph)."""

CASES: Final[tuple[SmokeCase, ...]] = USE_CASE.smoke_cases
"""The use case's smoke cases (its declaration holds them as data)."""


def smoke_frame(cases: Sequence[SmokeCase] = CASES) -> pd.DataFrame:
    """One row per case with the feature service's columns in order (the use case's transform)."""
    raw = pd.DataFrame([c.inputs for c in cases])
    derived = load_hook(USE_CASE.on_demand.frame)(raw)
    batch = raw[[c for c in MODEL_FEATURES if c in raw.columns]]
    frame = pd.concat([batch, derived], axis=1)
    out: pd.DataFrame = frame[list(MODEL_FEATURES)].astype("float64")
    return out


def smoke_document(scores: np.ndarray, cases: Sequence[SmokeCase] = CASES) -> dict[str, Any]:
    """smoke.json: feature vectors (null = missing), the model's expected scores and the stated bounds."""
    frame = smoke_frame(cases)
    items = []
    for i, case in enumerate(cases):
        vector = [None if math.isnan(v) else float(v) for v in frame.iloc[i].to_numpy(dtype=np.float64)]
        items.append(
            {
                "name": case.name,
                "why": case.why,
                "features": vector,
                "expected_score": float(scores[i]),
                "bounds": list(case.bounds),
            }
        )
    return {
        "feature_names": list(MODEL_FEATURES),
        "tolerance": SCORE_TOLERANCE,
        "missing": "null in `features` is a missing value: send NaN in the float32 tensor",
        "cases": items,
    }


def out_of_bounds(scores: np.ndarray, cases: Sequence[SmokeCase] = CASES) -> list[str]:
    """Cases whose score is outside its bounds (or not finite), as readable strings."""
    bad = []
    for case, score in zip(cases, scores, strict=True):
        lo, hi = case.bounds
        if not (math.isfinite(float(score)) and lo <= score <= hi):
            bad.append(f"{case.name}={float(score):.4f} not in [{lo}, {hi}]")
    return bad
