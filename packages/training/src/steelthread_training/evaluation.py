"""Stage 4: how good is a model, overall, per slice and across protected groups (binary; the other tasks'
metrics live in `steelthread_training.tasks`, behind the same `Evaluation`).

A single AUC hides a model that fails one slice (a region, a purpose), and a good ranking can still approve
one protected group far less often than another; both are measured here and gated later (fairness only
when the use case declares a protected attribute). The decision
threshold is chosen on the validation slice (by expected cost) and only reported on the test slice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from steelthread_contracts.api import Decision
from steelthread_contracts.decision import Thresholds, decide
from steelthread_contracts.package import Task
from steelthread_training.config import SliceConfig, ThresholdConfig
from steelthread_training.errors import TrainingError
from steelthread_training.frame import PROTECTED


@dataclass(frozen=True)
class Metrics:
    rows: int
    positives: int
    roc_auc: float
    pr_auc: float
    log_loss: float
    brier: float
    approval_rate: float
    default_rate_approved: float

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class SliceMetric:
    column: str
    value: str
    rows: int
    positives: int
    roc_auc: float
    pr_auc: float
    brier: float
    approval_rate: float
    gated: bool


@dataclass(frozen=True)
class Fairness:
    column: str
    approval_rates: dict[str, float]
    rows: dict[str, int]
    ratio: float
    """min approval rate / max approval rate (1.0 = parity; the 80% rule asks for >= 0.8)."""


class MetricSet(Protocol):
    """A task's test-set metrics (binary `Metrics`, `tasks.regression.RegressionMetrics`, ...)."""

    @property
    def rows(self) -> int: ...

    def as_dict(self) -> dict[str, float]: ...


class SliceRow(Protocol):
    """One slice's metrics (a dataclass, so `asdict` writes it to slices.csv)."""

    @property
    def column(self) -> str: ...

    @property
    def value(self) -> str: ...

    @property
    def rows(self) -> int: ...

    @property
    def gated(self) -> bool: ...


class GroupReport(Protocol):
    """A fairness measurement across the protected attribute's groups."""

    @property
    def column(self) -> str: ...

    @property
    def rows(self) -> dict[str, int]: ...

    @property
    def ratio(self) -> float: ...


@dataclass(frozen=True)
class Evaluation:
    """One model on one set of rows: the task's metrics, slices and fairness (binary: `Metrics`,
    `SliceMetric`, `Fairness`, decided at `threshold`; other tasks have no threshold)."""

    model: str
    threshold: float | None
    metrics: MetricSet
    calibration: pd.DataFrame
    slices: tuple[SliceRow, ...] = field(default_factory=tuple)
    fairness: GroupReport | None = None
    protected: str | None = PROTECTED
    """The protected attribute fairness was measured across; None: not applicable (the use case has none)."""
    task: Task = Task.BINARY

    def slice_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(s) for s in self.slices])  # type: ignore[call-overload]

    def binary(self) -> tuple[Metrics, float]:
        """The binary metrics and threshold (a TrainingError for another task's evaluation)."""
        if not isinstance(self.metrics, Metrics) or self.threshold is None:
            raise TrainingError(f"{self.model}: a {self.task} evaluation has no binary metrics")
        return self.metrics, self.threshold


def _both_classes(y: np.ndarray) -> bool:
    return bool(len(y)) and 0 < int(y.sum()) < len(y)


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if _both_classes(y) else math.nan


def pr_auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, p)) if _both_classes(y) else math.nan


def approved(p: np.ndarray, threshold: float) -> np.ndarray:
    """Rows the decision policy approves when `threshold` is the decline cut and there is no review band:
    the same rule (`steelthread_contracts.decision.decide`) that serving and batch apply, so training's
    approval rates are the rates the deployed decision will have."""
    cut = Thresholds(review=threshold, decline=threshold)
    return np.fromiter((decide(float(s), cut) is Decision.APPROVE for s in p), dtype=bool, count=len(p))


def metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> Metrics:
    from sklearn.metrics import brier_score_loss, log_loss

    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    accepted = approved(p, threshold)
    return Metrics(
        rows=len(y),
        positives=int(y.sum()),
        roc_auc=roc_auc(y, p),
        pr_auc=pr_auc(y, p),
        log_loss=float(log_loss(y, clipped, labels=[0, 1])),
        brier=float(brier_score_loss(y, p, pos_label=1)),
        approval_rate=float(accepted.mean()),
        default_rate_approved=float(y[accepted].mean()) if accepted.any() else math.nan,
    )


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Equal-count bins of the score: mean predicted vs observed default rate."""
    order = np.argsort(p, kind="stable")
    chunks = [c for c in np.array_split(order, min(bins, max(1, len(p)))) if len(c)]
    rows = [
        {
            "bin": i,
            "rows": len(c),
            "score_min": float(p[c].min()),
            "score_max": float(p[c].max()),
            "mean_score": float(p[c].mean()),
            "observed_rate": float(y[c].mean()),
        }
        for i, c in enumerate(chunks)
    ]
    return pd.DataFrame(rows)


def choose_threshold(y: np.ndarray, p: np.ndarray, config: ThresholdConfig) -> float:
    """The score cut (decline at or above it) with the lowest expected cost on these rows.

    Candidates are the score's percentiles, so the result does not depend on an arbitrary grid step; ties
    go to the lowest threshold for determinism.
    """
    candidates = np.unique(np.round(np.quantile(p, np.linspace(0.01, 0.99, 99)), 6))
    best_cost, best = math.inf, 0.5
    for t in candidates:
        below = p < t  # a search over candidate cuts; `approved` applies the chosen one as the policy does
        cost = config.cost_false_approve * float(
            (below & (y == 1)).sum()
        ) + config.cost_false_decline * float((~below & (y == 0)).sum())
        if cost < best_cost:
            best_cost, best = cost, float(t)
    return best


def slice_metrics(
    frame: pd.DataFrame, y: np.ndarray, p: np.ndarray, threshold: float, config: SliceConfig
) -> tuple[SliceMetric, ...]:
    out: list[SliceMetric] = []
    for column in config.columns:
        if column not in frame.columns:
            continue
        values = frame[column].astype("object").fillna("missing").astype(str).to_numpy()
        for value in sorted(set(values)):
            mask = values == value
            ys, ps = y[mask], p[mask]
            out.append(
                SliceMetric(
                    column=column,
                    value=value,
                    rows=int(mask.sum()),
                    positives=int(ys.sum()),
                    roc_auc=roc_auc(ys, ps),
                    pr_auc=pr_auc(ys, ps),
                    brier=float(np.mean((ps - ys) ** 2)),
                    approval_rate=float(approved(ps, threshold).mean()),
                    gated=bool(mask.sum() >= config.min_rows and _both_classes(ys)),
                )
            )
    return tuple(out)


def fairness(
    frame: pd.DataFrame, p: np.ndarray, threshold: float, column: str | None = PROTECTED
) -> Fairness | None:
    """Approval-rate ratio between the groups of `column` (None when there is none or it is absent)."""
    if column is None or column not in frame.columns:
        return None
    groups = frame[column].astype("object").fillna("missing").astype(str).to_numpy()
    rates: dict[str, float] = {}
    rows: dict[str, int] = {}
    for group in sorted(set(groups)):
        mask = groups == group
        rows[group] = int(mask.sum())
        rates[group] = float(approved(p[mask], threshold).mean())
    top = max(rates.values()) if rates else 0.0
    ratio = min(rates.values()) / top if top > 0 else math.nan
    return Fairness(column=column, approval_rates=rates, rows=rows, ratio=float(ratio))


def evaluate(
    name: str,
    frame: pd.DataFrame,
    y: np.ndarray,
    p: np.ndarray,
    threshold: float,
    slices: SliceConfig,
    protected: str | None = PROTECTED,
) -> Evaluation:
    """Metrics, calibration, slices and (when the use case has a protected attribute) fairness."""
    return Evaluation(
        model=name,
        threshold=threshold,
        metrics=metrics(y, p, threshold),
        calibration=calibration_table(y, p),
        slices=slice_metrics(frame, y, p, threshold, slices),
        fairness=fairness(frame, p, threshold, protected),
        protected=protected,
    )


def slice_columns_present(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    return [c for c in columns if c in frame.columns]
