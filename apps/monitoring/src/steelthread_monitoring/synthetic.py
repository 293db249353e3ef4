"""A small, seeded deployment (model package, prediction log, feedback) in the contracts' shapes.

The monitoring job, its alert rules and the runbooks must be exercisable without training a model; this
module writes files exactly as promotion and serving would, for tests, benchmarks and a laptop demo. It is
not the data generator of the use case (the use case's own generator is), and it knows nothing of serving
internals.

Every name comes from the use case's declaration (the active one, `STEELTHREAD_USECASE`, or one passed in):
the model's features in tensor order, the request fields (values inside their declared ranges and choices),
the categorical request slices, the task, the feature service and the decision policy. The values are
generic: each feature is a normal variable with its own seeded centre and spread, a fixed linear model of the
standardised features gives the score (a probability for a binary task, a number inside the use case's
`score_range` for regression) and the label follows the score. Scenarios name roles, not columns; `plan()`
says which column plays each role, so tests assert on the same names the data was written with.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from steelthread_contracts import PREDICTION_LOG_SCHEMA_VERSION, package, usecase
from steelthread_contracts.decision import Thresholds, decide
from steelthread_contracts.package import Task
from steelthread_contracts.usecase import RequestField, UseCase
from steelthread_monitoring.reference import LABEL_COLUMN, SCORE_COLUMN
from steelthread_monitoring.window import ENTITY_FIELD

Scenario = Literal["none", "input_shift", "new_category", "missing_values", "label_shift", "skew"]
SCENARIOS: tuple[Scenario, ...] = (
    "none",
    "input_shift",
    "new_category",
    "missing_values",
    "label_shift",
    "skew",
)
MODEL_VERSION = "3"
THRESHOLDS = Thresholds(review=0.35, decline=0.5)
"""A binary package's cuts (what its manifest states); other tasks decide through the use case's policy."""
SHIFT = 1.5
"""`input_shift` moves the shifted feature by this many of its standard deviations."""
NEW_CATEGORY_SHARE = 0.15
MISSING_SHARE = 0.4
SKEW_OFFSET = 1.0
ENTITY_KEYS = 100_000
LABEL_DELAY = timedelta(hours=1)
"""A synthetic label is observed this long after its prediction: the synthetic deployment's label delay
(what `STEELTHREAD_MONITOR_LABEL_DELAY` says for it)."""


@dataclass(frozen=True)
class Plan:
    """Which declared column plays which role in the synthetic data."""

    use_case: UseCase = field(repr=False)
    features: tuple[str, ...]
    """The model's inputs, in the use case's tensor order (the package's `feature_names`)."""
    categorical: tuple[str, ...]
    """String-choice request fields that are slices: logged in `request`, kept in the reference."""
    shift_column: str
    """`input_shift` moves it; it weighs most in the score, so the score drifts too."""
    missing_column: str
    """`missing_values` blanks it in a share of rows."""
    skew_column: str
    """`skew`: the offline recomputation disagrees with serving on it."""
    new_category_column: str | None
    held_out: str | None
    """A declared choice of `new_category_column` that no reference row has: `new_category` logs it."""

    @property
    def task(self) -> Task:
        return self.use_case.task

    @property
    def model_name(self) -> str:
        return f"{self.use_case.name}-synthetic"

    @property
    def monitored(self) -> list[str]:
        return [*self.features, *self.categorical]


@dataclass(frozen=True)
class Deployment:
    models_dir: Path
    log_dir: Path
    feedback_dir: Path
    reference_path: Path


def plan(use_case: UseCase | None = None) -> Plan:
    """The roles for a use case (default: the active one)."""
    uc = use_case or usecase.active()
    features = uc.feature_names
    categorical = tuple(
        f.name
        for f in uc.request_fields
        if f.kind == "choice" and f.storage == "string" and f.name in uc.slices and len(f.choices) >= 2
    )
    column = categorical[0] if categorical else None
    held_out = str(uc.request_field(column).choices[-1]) if column is not None else None
    return Plan(
        use_case=uc,
        features=features,
        categorical=categorical,
        shift_column=features[0],
        missing_column=features[min(1, len(features) - 1)],
        skew_column=features[min(2, len(features) - 1)],
        new_category_column=column,
        held_out=held_out,
    )


def _shape(p: Plan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-feature centre and spread, and the score's weights: fixed for a use case, whatever the seed."""
    rng = np.random.default_rng(1234)
    n = len(p.features)
    centre = rng.uniform(0.0, 100.0, size=n)
    spread = rng.uniform(1.0, 20.0, size=n)
    weights = rng.normal(scale=0.15, size=n)
    weights[0] = 1.0
    if n > 1:
        weights[1] = 0.6
    if n > 2:
        weights[2] = -0.5
    return centre, spread, weights


def _score_scale(p: Plan) -> tuple[float, float, float, float]:
    """Regression: the score's centre and spread inside the use case's score range (and the range)."""
    low, high = p.use_case.score_range
    return (low + high) / 2.0, (high - low) / 8.0, low, high


def _rows(p: Plan, rng: np.random.Generator, n: int, scenario: Scenario) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and categorical slices of `n` requests, and the standardised features behind the score."""
    centre, spread, _ = _shape(p)
    z = rng.standard_normal((n, len(p.features)))
    if scenario == "input_shift":
        z[:, 0] += SHIFT
    if scenario == "missing_values":
        z[rng.random(n) < MISSING_SHARE, p.features.index(p.missing_column)] = np.nan
    frame = pd.DataFrame(centre + spread * z, columns=list(p.features))
    for name in p.categorical:
        choices = [str(c) for c in p.use_case.request_field(name).choices]
        values = rng.choice(choices[:-1] if name == p.new_category_column else choices, size=n).astype(object)
        if scenario == "new_category" and name == p.new_category_column:
            values[rng.random(n) < NEW_CATEGORY_SHARE] = p.held_out
        frame[name] = values
    return frame, z


def _score(p: Plan, z: np.ndarray) -> np.ndarray:
    """A fixed linear model of the standardised features (a missing value counts as the mean)."""
    _, _, weights = _shape(p)
    linear = np.nan_to_num(z, nan=0.0) @ weights
    if p.task is Task.BINARY:
        probability: np.ndarray = 1.0 / (1.0 + np.exp(-(linear - 1.0)))
        return probability
    middle, scale, low, high = _score_scale(p)
    value: np.ndarray = np.clip(middle + scale * linear, low, high)
    return value


def _labels(p: Plan, rng: np.random.Generator, score: np.ndarray, scenario: Scenario) -> np.ndarray:
    if p.task is Task.BINARY:
        if scenario == "label_shift":
            # Outcomes no longer follow the model's score: the relation the model learned has changed.
            return (rng.random(len(score)) < 0.5).astype(np.int64)
        return (rng.random(len(score)) < score).astype(np.int64)
    _, scale, low, high = _score_scale(p)
    label = np.clip(score + rng.normal(scale=0.5 * scale, size=len(score)), low, high)
    if scenario == "label_shift":
        label = rng.permutation(label)
    return np.asarray(label, dtype=np.float64)


def reference_frame(rows: int = 5000, seed: int = 7, use_case: UseCase | None = None) -> pd.DataFrame:
    """What training would leave as the monitoring reference: features, slices, score and label."""
    p = plan(use_case)
    rng = np.random.default_rng(seed)
    frame, z = _rows(p, rng, rows, "none")
    frame[SCORE_COLUMN] = _score(p, z)
    frame[LABEL_COLUMN] = _labels(p, rng, frame[SCORE_COLUMN].to_numpy(), "none")
    return frame


PACKAGE_CREATED_AT = datetime(2026, 11, 1, tzinfo=UTC)
"""When the synthetic package was trained unless told otherwise (fixed: a fixed window has a fixed age)."""


def write_package(
    models_dir: Path,
    reference_rows: int = 5000,
    seed: int = 7,
    use_case: UseCase | None = None,
    created_at: datetime = PACKAGE_CREATED_AT,
) -> Path:
    """Reference-only model package (package.json and reference.parquet, no model file) published behind
    `champion` through the package contract, as monitoring reads it."""
    p = plan(use_case)
    frame = reference_frame(reference_rows, seed, p.use_case)
    fields: dict[str, Any] = {
        "task": p.task.value,
        "name": p.model_name,
        "feature_names": list(p.features),
        "feature_service": p.use_case.feature_service,
        "run_id": "synthetic",
        "created_at": created_at.isoformat(),
    }
    if p.task is Task.BINARY:
        fields |= {"threshold": THRESHOLDS.decline, "review_threshold": THRESHOLDS.review}
    with tempfile.TemporaryDirectory(prefix="steelthread-synthetic-") as tmp:
        run = Path(tmp)
        frame.to_parquet(run / package.REFERENCE_FILE, index=False)
        package.write_run_manifest(run, fields)
        folder = package.publish(run, models_dir, MODEL_VERSION)
    package.write_pointer(models_dir, "champion", MODEL_VERSION)
    return folder / package.REFERENCE_FILE


def _request_values(field: RequestField, rng: np.random.Generator, n: int) -> np.ndarray:
    """Values the API would accept for one declared request field."""
    if field.kind == "choice":
        return rng.choice(np.asarray(field.choices, dtype=object), size=n)
    low = field.ge if field.ge is not None else field.gt
    high = field.le if field.le is not None else field.lt
    example = float(field.example) if isinstance(field.example, int | float) else None
    if example is None or example == 0.0:
        example = (low or 0.0) + 1.0 if high is None else ((low or 0.0) + high) / 2.0
    values = example * np.exp(rng.normal(scale=0.3, size=n))
    if low is not None:
        values = np.maximum(values, np.nextafter(low, np.inf) if field.gt is not None else low)
    if high is not None:
        values = np.minimum(values, np.nextafter(high, -np.inf) if field.lt is not None else high)
    if field.kind == "integer":
        whole = np.round(values)
        if low is not None:
            whole = np.maximum(whole, np.floor(low) + 1 if field.gt is not None else np.ceil(low))
        if high is not None:
            whole = np.minimum(whole, np.ceil(high) - 1 if field.lt is not None else np.floor(high))
        return whole.astype(np.int64)
    return values


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
    use_case: UseCase | None = None,
) -> None:
    """Prediction-log JSONL (and feedback JSONL) of `rows` predictions spread over `span` before `end`."""
    p = plan(use_case)
    uc = p.use_case
    if scenario == "new_category" and p.new_category_column is None:
        raise ValueError(f"use case {uc.name!r} declares no categorical request slice for 'new_category'")
    rng = np.random.default_rng(seed)
    log_dir.mkdir(parents=True, exist_ok=True)
    feedback_dir.mkdir(parents=True, exist_ok=True)
    frame, z = _rows(p, rng, rows, scenario)
    score = _score(p, z)
    labels = _labels(p, rng, score, scenario)
    offsets = np.sort(rng.uniform(0, span.total_seconds(), size=rows))
    logged = pd.Timestamp(end) - pd.to_timedelta(span.total_seconds() - offsets, unit="s")
    ids = [f"syn-{seed}-{i}" for i in range(rows)]
    features = frame[list(p.features)].astype(object).where(frame[list(p.features)].notna(), None)
    request = pd.DataFrame(
        {
            f.name: frame[f.name] if f.name in p.categorical else _request_values(f, rng, rows)
            for f in uc.request_fields
        }
    )
    thresholds = THRESHOLDS if p.task is Task.BINARY else uc.policy.cuts
    decision = [decide(float(v), thresholds, uc.policy).value for v in score]
    log = pd.DataFrame(
        {
            "schema_version": PREDICTION_LOG_SCHEMA_VERSION,
            "logged_at": logged.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "request_id": ids,
            ENTITY_FIELD: rng.integers(1, min(ENTITY_KEYS, uc.entity.max_key) + 1, size=rows),
            "source": "online",
            "model_name": p.model_name,
            "model_version": MODEL_VERSION,
            "mode": "live",
            "request": request.to_dict(orient="records"),
            "features": features.to_dict(orient="records"),
            "score": score,
            "decision": decision,
            "degraded": False,
            "degraded_reason": None,
            "scores": [
                [
                    {
                        "model_name": p.model_name,
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
            "observed_at": (logged[labelled] + pd.Timedelta(LABEL_DELAY)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
    )
    feedback.to_json(feedback_dir / f"feedback-{seed}.jsonl", orient="records", lines=True)


def offline_features_for(log_dir: Path, scenario: Scenario, use_case: UseCase | None = None) -> pd.DataFrame:
    """What an offline recomputation returns for the logged requests; `skew` perturbs one feature."""
    frames = [pd.read_json(p, lines=True) for p in sorted(log_dir.glob("predictions-*.jsonl"))]
    log = pd.concat(frames, ignore_index=True)
    features = pd.DataFrame(list(log["features"]))
    features.insert(0, "request_id", log["request_id"])
    if scenario == "skew":
        column = plan(use_case).skew_column
        features[column] = features[column] + SKEW_OFFSET
    return features


def write_deployment(
    root: Path,
    rows: int,
    end: datetime,
    scenario: Scenario = "none",
    labelled_share: float = 0.5,
    use_case: UseCase | None = None,
    package_created_at: datetime = PACKAGE_CREATED_AT,
) -> Deployment:
    """Package + window under `root` in the STEELTHREAD_DATA_DIR layout."""
    models = root / "models"
    reference = write_package(models, use_case=use_case, created_at=package_created_at)
    log_dir, feedback_dir = root / "prediction-log", root / "feedback"
    write_window(log_dir, feedback_dir, rows, end, scenario, labelled_share, use_case=use_case)
    return Deployment(models, log_dir, feedback_dir, reference)
