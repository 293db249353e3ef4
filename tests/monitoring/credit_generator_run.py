"""The credit example's generator, end to end through the monitoring job: one run per scenario.

Run by test_monitoring_credit_generator.py in a process of its own (`python -m monitoring.credit_generator_run
OUT SCENARIO...` with `STEELTHREAD_USECASE=credit` and tests/ on the path), because the features plumbing
binds the use case it serves at import: the test holds for the credit example whatever use case the pytest
process runs.

generated tables -> Feast point-in-time features (steelthread_features.store.training_frame) -> a reference
set (before the generator's drift start) and a prediction log + feedback (after it) in the contracts'
shapes -> the monitoring job -> its summary.json and textfile, listed in OUT/runs.json.

The model is a stand-in (a logistic regression fitted here on the reference rows): monitoring sees only
scores and labels, and the trained LightGBM package is not what these scenarios test.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.packages import publish_reference
from steelthread_features import store
from steelthread_features.definitions import FEATURE_NAMES, USE_CASE
from steelthread_features.generator import generate, write
from steelthread_features.settings import FeatureSettings
from steelthread_monitoring.job import RunOptions, run_monitoring

ROWS = 6000
SEED = 5
FEATURES = list(FEATURE_NAMES)
SLICES = ["purpose", "region", "protected_group"]


def _fit_logistic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Newton-Raphson logistic regression: a deterministic stand-in model."""
    x1 = np.c_[np.ones(len(x)), x]
    w = np.zeros(x1.shape[1])
    for _ in range(25):
        p = 1.0 / (1.0 + np.exp(-x1 @ w))
        hessian = x1.T @ (x1 * (p * (1 - p))[:, None]) + 1e-3 * np.eye(len(w))
        w -= np.linalg.solve(hessian, x1.T @ (p - y))
    return w


def _log_records(frame: pd.DataFrame, scores: np.ndarray) -> str:
    lines = []
    rows: list[dict[str, Any]] = frame.to_dict(orient="records")  # type: ignore[assignment]
    for row, score in zip(rows, scores, strict=True):
        values = {name: row[name] for name in FEATURES}
        record = {
            "schema_version": 1,
            "logged_at": row["event_timestamp"].isoformat(),
            "request_id": row["request_id"],
            "customer_id": int(row["customer_id"]),
            "model_name": "credit-risk",
            "model_version": "1",
            "mode": "live",
            "request": {
                "loan_amount": float(row["loan_amount"]),
                "term_months": int(row["term_months"]),
                "purpose": row["purpose"],
                "declared_income": float(row["declared_income"]),
            },
            "features": {k: None if pd.isna(v) else float(v) for k, v in values.items()},
            "score": float(score),
            "decision": "decline" if score >= 0.5 else "approve",
            "scores": [
                {
                    "model_name": "credit-risk",
                    "model_version": "1",
                    "role": "champion",
                    "score": float(score),
                }
            ],
            "latency_ms": 3.0,
        }
        lines.append(json.dumps(record))
    return "\n".join(lines) + "\n"


def _scenario(name: str, root: Path) -> dict[str, str]:
    data = generate(ROWS, seed=SEED, scenario=None if name == "baseline" else name)
    root.mkdir(parents=True)
    write(data, root / "data")
    settings = FeatureSettings(
        profile="local", tables_dir=root / "data", feast_dir=root / "feast", project="steelthread"
    )
    store.apply(settings)
    entities = data.applications.merge(data.labels, on="request_id").rename(
        columns={"application_timestamp": "event_timestamp"}
    )
    frame = store.training_frame(entities, settings=settings, with_slices=True)
    drift_start = pd.Timestamp(data.drift_start)
    before = frame[frame["event_timestamp"] < drift_start]
    after = frame[frame["event_timestamp"] >= drift_start]

    median = before[FEATURES].median()
    filled = before[FEATURES].fillna(median)
    mean, std = filled.mean(), filled.std().replace(0, 1)
    weights = _fit_logistic(((filled - mean) / std).to_numpy(), before["defaulted"].to_numpy())

    def score(part: pd.DataFrame) -> np.ndarray:
        x = ((part[FEATURES].fillna(median) - mean) / std).to_numpy()
        out: np.ndarray = 1.0 / (1.0 + np.exp(-(np.c_[np.ones(len(x)), x] @ weights)))
        return out

    reference = before[FEATURES].copy()
    reference["score"] = score(before)
    reference["label"] = before["defaulted"].to_numpy()
    for column in SLICES:
        reference[column] = before[column].astype(str).to_numpy()
    created_at = (data.end + USE_CASE.label_delay - timedelta(days=5)).isoformat()  # fresh when judged
    publish_reference(root / "models", "1", reference, feature_names=FEATURES, created_at=created_at)

    log_dir, feedback_dir = root / "prediction-log", root / "feedback"
    log_dir.mkdir()
    feedback_dir.mkdir()
    (log_dir / "predictions-0001.jsonl").write_text(_log_records(after, score(after)))
    feedback = pd.DataFrame(
        {
            "request_id": after["request_id"],
            "observed_label": after["defaulted"].astype(int),
            "observed_at": after["label_timestamp"].map(pd.Timestamp.isoformat),
        }
    )
    feedback.to_json(feedback_dir / "feedback-0001.jsonl", orient="records", lines=True)

    textfile = root / "textfile" / "steelthread_monitor.prom"
    outcome = run_monitoring(
        RunOptions(
            # Judged once every label has arrived: the cohort is the whole log, matured by the credit
            # example's declared label delay, and the recent window reaches back over it too.
            window=pd.Timestamp(data.end) + USE_CASE.label_delay - drift_start,
            now=data.end + USE_CASE.label_delay,
            label_delay=USE_CASE.label_delay,
            cohort_window=pd.Timestamp(data.end) - drift_start,
            log_dir=log_dir,
            feedback_dir=feedback_dir,
            models_dir=root / "models",
            out_dir=root / "monitoring",
            textfile=textfile,
        )
    )
    return {"summary": str(outcome.run_dir / "summary.json"), "textfile": str(textfile)}


def main(out: Path, scenarios: list[str]) -> None:
    if USE_CASE.name != "credit":
        raise SystemExit(f"runs the credit example's generator; STEELTHREAD_USECASE names {USE_CASE.name!r}")
    runs = {name: _scenario(name, out / name) for name in scenarios}
    (out / "runs.json").write_text(json.dumps(runs))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
