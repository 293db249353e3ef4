"""Fixed inputs (the use case's smoke cases) whose scores any acceptable model must place in known ranges.

They are the package's smoke test: training checks the bounds (an ML sanity test a metric cannot give:
an obviously risky case must score high), and serving re-scores the stored vectors on load and compares
with the expected scores to prove that it runs the same model on the same feature order. Bounds are in
the package's score units: a probability for binary and multiclass, the label's units for regression.
The request-time features come from the use case's own transform, so they match serving's path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from steelthread_contracts.package import MAX_SMOKE_TOLERANCE
from steelthread_contracts.usecase import SmokeCase, active, load_hook
from steelthread_training.frame import MODEL_FEATURES

USE_CASE = active()

SCORE_TOLERANCE: Final = 1e-5
"""How far serving's onnxruntime score may be from the stored expected score (same float32 graph)."""
RELATIVE_TOLERANCE: Final = 1e-6
"""For scores in label units (regression): a float32 ulp of a score s is ~6e-8 * |s|, so a tolerance of
1e-6 * the largest |expected score| (at least SCORE_TOLERANCE, at most the contract's 1e-3) allows a few ulps
whichever summation order a reader's onnxruntime takes."""


def tolerance(scores: np.ndarray) -> float:
    """The smoke document's tolerance: SCORE_TOLERANCE for probabilities, scaled for larger scores."""
    largest = float(np.max(np.abs(scores))) if len(scores) else 0.0
    return max(SCORE_TOLERANCE, min(MAX_SMOKE_TOLERANCE, RELATIVE_TOLERANCE * largest))


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


@dataclass(frozen=True)
class SmokeSet:
    """Smoke cases with their feature vectors (`features`: one row per case, the model's columns in order)
    and the names whose scores must rise in that order."""

    cases: tuple[SmokeCase, ...]
    features: pd.DataFrame
    ordering: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.cases) != len(self.features):
            raise ValueError(f"{len(self.cases)} smoke cases for {len(self.features)} feature rows")
        names = {c.name for c in self.cases}
        if not set(self.ordering) <= names:
            raise ValueError(f"smoke ordering names unknown cases: {sorted(set(self.ordering) - names)}")

    @classmethod
    def of_use_case(cls) -> SmokeSet:
        """The active use case's cases, through its request-time transform."""
        return cls(CASES, smoke_frame(CASES), USE_CASE.smoke_ordering)

    @classmethod
    def direct(
        cls, cases: Sequence[SmokeCase], features: Sequence[str], ordering: Sequence[str] = ()
    ) -> SmokeSet:
        """Cases whose `inputs` are the model's features themselves (no transform; absent = missing)."""
        frame = pd.DataFrame([c.inputs for c in cases]).reindex(columns=list(features))
        return cls(tuple(cases), frame.astype("float64"), tuple(ordering))

    def matrix(self) -> np.ndarray:
        return self.features.to_numpy(dtype=np.float64)


def smoke_document(scores: np.ndarray, cases: Sequence[SmokeCase] | SmokeSet = CASES) -> dict[str, Any]:
    """smoke.json: feature vectors (null = missing), the model's expected scores and the stated bounds."""
    smoke = cases if isinstance(cases, SmokeSet) else SmokeSet(tuple(cases), smoke_frame(cases))
    items = []
    for i, case in enumerate(smoke.cases):
        vector = [
            None if math.isnan(v) else float(v) for v in smoke.features.iloc[i].to_numpy(dtype=np.float64)
        ]
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
        "feature_names": list(smoke.features.columns),
        "tolerance": tolerance(np.asarray(scores, dtype=np.float64)),
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
