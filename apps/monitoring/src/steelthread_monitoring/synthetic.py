"""A small, seeded deployment (model package, prediction log, feedback) in the contracts' shapes.

The monitoring job, its alert rules and the runbooks must be exercisable without training a model; this
module writes files exactly as promotion and serving would, for tests, benchmarks and a laptop demo. It is
not the data generator of the use case (packages/features), and it knows nothing of serving internals.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from steelthread_contracts import PREDICTION_LOG_SCHEMA_VERSION, package
from steelthread_contracts.decision import Thresholds, decide

Scenario = Literal["none", "income_shift", "new_category", "missing_values", "label_shift", "skew"]
SCENARIOS: tuple[Scenario, ...] = (
    "none",
    "income_shift",
    "new_category",
    "missing_values",
    "label_shift",
    "skew",
)
FEATURES = ["income", "loan_amount", "loan_to_income", "credit_history_months", "debt_ratio"]
SLICES = ["purpose"]
PURPOSES = ["debt_consolidation", "home_improvement", "car", "business", "education", "medical"]
MODEL_NAME = "credit-risk"
MODEL_VERSION = "3"
THRESHOLDS = Thresholds(review=0.35, decline=0.5)


@dataclass(frozen=True)
class Deployment:
    models_dir: Path
    log_dir: Path
    feedback_dir: Path
    reference_path: Path


def _applications(rng: np.random.Generator, n: int, scenario: Scenario) -> pd.DataFrame:
    income = rng.lognormal(mean=10.8, sigma=0.35, size=n)
    if scenario == "income_shift":
        income = income * 1.6
    loan = np.clip(rng.lognormal(mean=9.3, sigma=0.5, size=n), 500, 200_000)
    purpose = rng.choice(PURPOSES, size=n, p=[0.35, 0.2, 0.2, 0.1, 0.1, 0.05]).astype(object)
    if scenario == "new_category":
        purpose[rng.random(n) < 0.15] = "crypto_investment"
    frame = pd.DataFrame(
        {
            "income": income,
            "loan_amount": loan,
            "loan_to_income": loan / income,
            "credit_history_months": rng.integers(6, 360, size=n).astype(np.float64),
            "debt_ratio": rng.beta(2, 5, size=n),
            "purpose": purpose,
        }
    )
    if scenario == "missing_values":
        frame.loc[rng.random(n) < 0.4, "debt_ratio"] = np.nan
    return frame


def _score(frame: pd.DataFrame) -> np.ndarray:
    """A fixed logistic model: risk rises with loan-to-income and debt ratio, falls with history."""
    debt = frame["debt_ratio"].fillna(0.3).to_numpy()
    z = (
        -1.4
        + 2.5 * np.minimum(frame["loan_to_income"].to_numpy(), 3.0)
        + 3.0 * debt
        - 0.004 * frame["credit_history_months"].to_numpy()
    )
    score: np.ndarray = 1.0 / (1.0 + np.exp(-z))
    return score


def _labels(rng: np.random.Generator, score: np.ndarray, scenario: Scenario) -> np.ndarray:
    if scenario == "label_shift":
        # Defaults no longer follow the model's risk: the relation the model learned has changed.
        return (rng.random(len(score)) < 0.5).astype(np.int64)
    return (rng.random(len(score)) < score).astype(np.int64)


def write_package(models_dir: Path, reference_rows: int = 5000, seed: int = 7) -> Path:
    """Reference-only model package (package.json and reference.parquet, no model file) published behind
    `champion` through the package contract, as monitoring reads it."""
    rng = np.random.default_rng(seed)
    frame = _applications(rng, reference_rows, "none")
    frame["score"] = _score(frame)
    frame["label"] = _labels(rng, frame["score"].to_numpy(), "none")
    with tempfile.TemporaryDirectory(prefix="steelthread-synthetic-") as tmp:
        run = Path(tmp)
        frame.to_parquet(run / package.REFERENCE_FILE, index=False)
        package.write_run_manifest(
            run,
            {
                "name": MODEL_NAME,
                "feature_names": FEATURES,
                "threshold": THRESHOLDS.decline,
                "review_threshold": THRESHOLDS.review,
                "feature_service": "credit_risk_v1",
                "run_id": "synthetic",
                "created_at": datetime(2026, 11, 1, tzinfo=UTC).isoformat(),
            },
        )
        folder = package.publish(run, models_dir, MODEL_VERSION)
    package.write_pointer(models_dir, "champion", MODEL_VERSION)
    return folder / package.REFERENCE_FILE


def write_window(
    log_dir: Path,
    feedback_dir: Path,
    rows: int,
    end: datetime,
    scenario: Scenario = "none",
    labelled_share: float = 0.5,
    span: timedelta = timedelta(hours=12),
    seed: int = 11,
    files: int = 1,
) -> None:
    """Prediction-log JSONL (and feedback JSONL) of `rows` predictions spread over `span` before `end`."""
    rng = np.random.default_rng(seed)
    log_dir.mkdir(parents=True, exist_ok=True)
    feedback_dir.mkdir(parents=True, exist_ok=True)
    frame = _applications(rng, rows, scenario)
    score = _score(frame)
    labels = _labels(rng, score, scenario)
    offsets = np.sort(rng.uniform(0, span.total_seconds(), size=rows))
    logged = pd.Timestamp(end) - pd.to_timedelta(span.total_seconds() - offsets, unit="s")
    ids = [f"syn-{seed}-{i}" for i in range(rows)]
    features = frame[FEATURES].astype(object).where(frame[FEATURES].notna(), None)
    feature_dicts = features.to_dict(orient="records")
    request_dicts = [
        {"purpose": p, "loan_amount": a, "declared_income": i, "term_months": 36}
        for p, a, i in zip(frame["purpose"], frame["loan_amount"], frame["income"], strict=True)
    ]
    decision = [decide(float(v), THRESHOLDS).value for v in score]
    log = pd.DataFrame(
        {
            "schema_version": PREDICTION_LOG_SCHEMA_VERSION,
            "logged_at": logged.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "request_id": ids,
            "customer_id": rng.integers(1, 100_000, size=rows),
            "source": "online",
            "model_name": MODEL_NAME,
            "model_version": MODEL_VERSION,
            "mode": "live",
            "request": request_dicts,
            "features": feature_dicts,
            "score": score,
            "decision": decision,
            "degraded": False,
            "degraded_reason": None,
            "scores": [
                [
                    {
                        "model_name": MODEL_NAME,
                        "model_version": MODEL_VERSION,
                        "role": "champion",
                        "score": s,
                        "error": None,
                    }
                ]
                for s in score
            ],
            "latency_ms": rng.gamma(2.0, 2.0, size=rows),
        }
    )
    for index, part in enumerate(np.array_split(np.arange(rows), files)):
        path = log_dir / f"predictions-{seed}-{index:04d}.jsonl"
        log.iloc[part].to_json(path, orient="records", lines=True, date_format="iso")
    labelled = rng.random(rows) < labelled_share
    feedback = pd.DataFrame(
        {
            "request_id": np.asarray(ids)[labelled],
            "observed_label": labels[labelled],
            "observed_at": (logged[labelled] + pd.Timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
    )
    feedback.to_json(feedback_dir / f"feedback-{seed}.jsonl", orient="records", lines=True)


def offline_features_for(log_dir: Path, scenario: Scenario) -> pd.DataFrame:
    """What an offline recomputation returns for the logged requests; `skew` perturbs one feature."""
    frames = [pd.read_json(p, lines=True) for p in sorted(log_dir.glob("predictions-*.jsonl"))]
    log = pd.concat(frames, ignore_index=True)
    features = pd.DataFrame(list(log["features"]))
    features.insert(0, "request_id", log["request_id"])
    if scenario == "skew":
        features["debt_ratio"] = features["debt_ratio"] * 1.25
    return features


def write_deployment(
    root: Path,
    rows: int,
    end: datetime,
    scenario: Scenario = "none",
    labelled_share: float = 0.5,
) -> Deployment:
    """Package + window under `root` in the STEELTHREAD_DATA_DIR layout."""
    models = root / "models"
    reference = write_package(models)
    log_dir, feedback_dir = root / "prediction-log", root / "feedback"
    write_window(log_dir, feedback_dir, rows, end, scenario, labelled_share)
    return Deployment(models, log_dir, feedback_dir, reference)
