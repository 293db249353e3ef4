"""Five fixed applications whose scores any acceptable model must place in known ranges.

They are the package's smoke test: training checks the bounds (an ML sanity test a metric cannot give:
an obviously risky applicant must score high), and serving re-scores the stored vectors on load and
compares with the expected scores to prove that it runs the same model on the same feature order.
The request-time features come from the feature library's own transform, so they match serving's path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from steelthread_features.transforms import application_features
from steelthread_training.frame import MODEL_FEATURES

NAN = math.nan
SCORE_TOLERANCE: Final = 1e-5
"""How far serving's onnxruntime score may be from the stored expected score (same float32 graph)."""


@dataclass(frozen=True)
class SmokeCase:
    name: str
    why: str
    inputs: dict[str, Any]
    bounds: tuple[float, float]


_LOW = {
    "age": 52.0,
    "years_employed": 20.0,
    "months_at_address": 120.0,
    "home_ownership": "own",
    "total_balance": 2_000.0,
    "credit_utilisation": 0.08,
    "delinquencies_12m": 0.0,
    "months_since_delinquency": 120.0,
    "past_loans": 4.0,
    "inquiries_6m": 0.0,
    "loan_amount": 4_000.0,
    "term_months": 24,
    "purpose": "car",
    "declared_income": 95_000.0,
}

CASES: Final[tuple[SmokeCase, ...]] = (
    SmokeCase("low_risk", "long employment, clean history, small car loan", _LOW, (0.0, 0.15)),
    SmokeCase(
        "typical",
        "average customer, moderate debt consolidation loan",
        {
            **_LOW,
            "age": 40.0,
            "years_employed": 6.0,
            "home_ownership": "mortgage",
            "total_balance": 9_000.0,
            "credit_utilisation": 0.35,
            "past_loans": 2.0,
            "inquiries_6m": 1.0,
            "loan_amount": 12_000.0,
            "term_months": 36,
            "purpose": "debt_consolidation",
            "declared_income": 52_000.0,
        },
        (0.02, 0.6),
    ),
    SmokeCase(
        "high_risk",
        "recent delinquencies, maxed-out credit, loan above yearly income",
        {
            **_LOW,
            "age": 23.0,
            "years_employed": 0.5,
            "months_at_address": 4.0,
            "home_ownership": "rent",
            "total_balance": 19_000.0,
            "credit_utilisation": 0.97,
            "delinquencies_12m": 4.0,
            "months_since_delinquency": 1.0,
            "past_loans": 1.0,
            "inquiries_6m": 5.0,
            "loan_amount": 30_000.0,
            "term_months": 60,
            "purpose": "business",
            "declared_income": 21_000.0,
        },
        (0.4, 1.0),
    ),
    SmokeCase(
        "zero_income",
        "no declared income: the income flag and the floored ratios must push the score up",
        {
            **_LOW,
            "age": 30.0,
            "years_employed": 1.0,
            "home_ownership": "rent",
            "credit_utilisation": 0.6,
            "delinquencies_12m": 1.0,
            "months_since_delinquency": 6.0,
            "inquiries_6m": 2.0,
            "loan_amount": 10_000.0,
            "term_months": 48,
            "purpose": "other",
            "declared_income": 0.0,
        },
        (0.3, 1.0),
    ),
    SmokeCase(
        "unknown_customer",
        "no profile or history (new customer): missing values must still give a finite score",
        {
            **dict.fromkeys(
                (
                    "age",
                    "years_employed",
                    "months_at_address",
                    "total_balance",
                    "credit_utilisation",
                    "delinquencies_12m",
                    "months_since_delinquency",
                    "past_loans",
                    "inquiries_6m",
                ),
                NAN,
            ),
            "home_ownership": None,
            "loan_amount": 8_000.0,
            "term_months": 36,
            "purpose": "medical",
            "declared_income": 40_000.0,
        },
        (0.0, 1.0),
    ),
)


def smoke_frame(cases: Sequence[SmokeCase] = CASES) -> pd.DataFrame:
    """One row per case with credit_risk_v1's features, in order, computed by the feature library."""
    raw = pd.DataFrame([c.inputs for c in cases])
    derived = application_features(raw)
    batch = raw[[c for c in MODEL_FEATURES if c in raw.columns]]
    frame = pd.concat([batch, derived], axis=1)
    return frame[list(MODEL_FEATURES)].astype("float64")


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
