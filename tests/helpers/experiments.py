"""Two model versions' traffic with labels, written as serving writes it, for the experiment and paired
comparison commands (runbook pages and their tests).

The rows come from the synthetic deployment's reference (`steelthread_monitoring.synthetic`: the active use
case's features, a score and a label that follows it). The `good` version answers that score; a `worse`
one answers it with noise added (binary: on the probability, clipped; regression: in label units), so which
version is better is known in advance.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from steelthread_contracts import PREDICTION_LOG_SCHEMA_VERSION, package
from steelthread_contracts.package import Task
from steelthread_monitoring.synthetic import THRESHOLDS, plan, reference_frame

STABLE, CANARY = "1", "2"
STABLE_SEED, CANARY_SEED = 7, 8
"""Seeds of the versions' reference sets (what `steelthread-experiment plan` reads its baseline from)."""


@dataclass(frozen=True)
class World:
    root: Path
    models_dir: Path
    log_dir: Path
    feedback_dir: Path
    end: datetime


def publish_version(models_dir: Path, version: str, seed: int) -> None:
    """A reference-only package of `version` (what the monitoring reader needs of it)."""
    p = plan()
    fields: dict[str, object] = {
        "task": p.task.value,
        "name": p.model_name,
        "feature_names": list(p.features),
        "feature_service": p.use_case.feature_service,
        "run_id": f"experiment-{version}",
        "created_at": "2026-11-01T00:00:00+00:00",
    }
    if p.task is Task.BINARY:
        fields |= {"threshold": THRESHOLDS.decline, "review_threshold": THRESHOLDS.review}
    with tempfile.TemporaryDirectory(prefix="steelthread-experiment-") as tmp:
        run = Path(tmp)
        reference_frame(1_000, seed).to_parquet(run / package.REFERENCE_FILE, index=False)
        package.write_run_manifest(run, fields)
        package.publish(run, models_dir, version)


def worse(score: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """`score` made worse by noise of `amount` (a share of a probability, or of the score's spread)."""
    if plan().task is Task.BINARY:
        return np.asarray(np.clip(score + rng.normal(scale=amount, size=len(score)), 0.001, 0.999))
    return np.asarray(score + rng.normal(scale=amount * float(np.std(score)), size=len(score)))


def write_traffic(
    root: Path,
    *,
    end: datetime,
    rows: int = 3_000,
    seed: int = 5,
    treatment_share: float = 0.2,
    canary_noise: float = 0.0,
    shadow: bool = False,
) -> World:
    """Versions 1 (`stable`) and 2 (`champion`) published, and `rows` labelled requests over the hour
    before `end`: in canary mode the entity's arm answers (share `treatment_share`), in shadow mode version
    1 answers every request and version 2 scores it beside (`shadow=True`). Version 2's score has
    `canary_noise` added (0: as good as version 1; negative: version 1's gets it, so version 2 is better)."""
    models, log_dir, feedback_dir = root / "models", root / "prediction-log", root / "feedback"
    for folder in (log_dir, feedback_dir):
        folder.mkdir(parents=True, exist_ok=True)
    publish_version(models, STABLE, seed=STABLE_SEED)
    publish_version(models, CANARY, seed=CANARY_SEED)
    if shadow:  # version 1 is the champion, version 2 its challenger
        package.write_pointer(models, "champion", STABLE)
    else:  # a canary: version 2 is the new champion, version 1 the stable it replaced
        package.write_pointer(models, "champion", CANARY)
        package.write_pointer(models, package.STABLE, STABLE)
    rng = np.random.default_rng(seed)
    p = plan()
    frame = reference_frame(rows, seed).reset_index(drop=True)
    truth = frame["score"].to_numpy()
    scores = {STABLE: truth.copy(), CANARY: truth.copy()}
    if canary_noise > 0:
        scores[CANARY] = worse(truth, rng, canary_noise)
    elif canary_noise < 0:
        scores[STABLE] = worse(truth, rng, -canary_noise)
    entity = rng.integers(1, 10**9, size=rows)
    canary = rng.random(rows) < treatment_share
    start = end - timedelta(hours=1)
    times = pd.Timestamp(start) + pd.to_timedelta(np.sort(rng.uniform(0, 3_600, size=rows)), unit="s")
    times = times.floor("us")  # the log's timestamps are microseconds
    lines, labels = [], []
    for i in range(rows):
        answering = STABLE if shadow or not canary[i] else CANARY
        scored = [STABLE, CANARY] if shadow else [answering]
        features = {f: (None if pd.isna(frame.at[i, f]) else float(frame.at[i, f])) for f in p.features}
        record = {
            "schema_version": PREDICTION_LOG_SCHEMA_VERSION,
            "logged_at": times[i].isoformat(),
            "request_id": f"exp-{seed}-{i}",
            "entity_key": int(entity[i]),
            "model_name": p.model_name,
            "model_version": answering,
            "mode": "shadow" if shadow else "canary",
            "request": {},
            "features": features,
            "score": float(scores[answering][i]),
            "decision": "approve",
            "degraded": False,
            "scores": [
                {
                    "model_name": p.model_name,
                    "model_version": v,
                    "role": ("champion" if v == STABLE else "challenger")
                    if shadow
                    else ("stable" if v == STABLE else "champion"),
                    "score": float(scores[v][i]),
                }
                for v in scored
            ],
            "latency_ms": 3.0,
        }
        lines.append(json.dumps(record))
        observed = (times[i] + timedelta(minutes=1)).isoformat()
        label = float(frame.at[i, "label"])
        labels.append(
            json.dumps({"request_id": record["request_id"], "observed_label": label, "observed_at": observed})
        )
    (log_dir / f"predictions-exp-{seed}.jsonl").write_text("\n".join(lines) + "\n")
    (feedback_dir / f"feedback-exp-{seed}.jsonl").write_text("\n".join(labels) + "\n")
    return World(root, models, log_dir, feedback_dir, end)
