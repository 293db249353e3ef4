"""Binary: P(label 1) from LightGBM `binary` against a logistic regression, ROC AUC first, a decision
threshold chosen by expected cost, approval-rate fairness (the 80% rule). The credit example's task."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from steelthread_contracts.package import Task
from steelthread_training.config import GateConfig, TrainingConfig, ValidationConfig
from steelthread_training.evaluation import (
    Evaluation,
    Fairness,
    SliceMetric,
    choose_threshold,
    evaluate,
    roc_auc,
)
from steelthread_training.export import OUTPUT_NAME, POSITIVE_CLASS_INDEX
from steelthread_training.gate import GateCheck, binary_checks
from steelthread_training.tasks import TaskKind
from steelthread_training.validation import Check, binary_label_checks


def _f(value: float | None) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.4f}"


class BinaryTask(TaskKind):
    task: ClassVar[Task] = Task.BINARY
    primary: ClassVar[str] = "roc_auc"
    higher_is_better: ClassVar[bool] = True
    summary: ClassVar[tuple[str, ...]] = ("roc_auc", "pr_auc", "log_loss", "brier", "approval_rate")

    def decision(
        self, y: np.ndarray, predicted: np.ndarray, config: TrainingConfig
    ) -> tuple[float | None, float | None]:
        threshold = choose_threshold(y, predicted, config.threshold)
        return threshold, threshold * config.threshold.review_band

    def score_column(self, config: TrainingConfig, classes: int | None) -> int | None:
        return POSITIVE_CLASS_INDEX

    def onnx_example(self, predicted: np.ndarray) -> np.ndarray:
        return np.stack([1.0 - predicted, predicted], 1)

    def describe_score(self, config: TrainingConfig, classes: int | None) -> str:
        return f"{OUTPUT_NAME}[:, {POSITIVE_CLASS_INDEX}] = P(label = 1)"

    def evaluate(
        self,
        name: str,
        frame: pd.DataFrame,
        y: np.ndarray,
        predicted: np.ndarray,
        *,
        threshold: float | None,
        config: TrainingConfig,
        protected: str | None,
    ) -> Evaluation:
        if threshold is None:
            raise ValueError("a binary evaluation needs its decision threshold")
        return evaluate(name, frame, y, predicted, threshold, config.slices, protected)

    def primary_value(self, y: np.ndarray, predicted: np.ndarray, config: TrainingConfig) -> float:
        return roc_auc(y, predicted)

    def gate_checks(
        self, candidate: Evaluation, baseline: Evaluation, config: GateConfig
    ) -> tuple[list[GateCheck], list[str]]:
        return binary_checks(candidate, baseline, config)

    def champion_tolerance(self, config: GateConfig) -> float:
        return config.champion_tolerance

    def primary_floor(self, config: GateConfig) -> float | None:
        return config.min_roc_auc

    def label_checks(
        self, label: pd.Series, config: ValidationConfig, *, objective: str | None = None
    ) -> list[Check]:
        return binary_label_checks(label, config)

    def package_metrics(self, candidate: Evaluation, baseline: Evaluation) -> dict[str, float]:
        m, _ = candidate.binary()
        b, _ = baseline.binary()
        return {
            "roc_auc": m.roc_auc,
            "pr_auc": m.pr_auc,
            "log_loss": m.log_loss,
            "brier": m.brier,
            "approval_rate": m.approval_rate,
            "baseline_roc_auc": b.roc_auc,
        }

    def fairness_metric(self) -> str:
        return "fairness.approval_ratio"

    def plots(
        self,
        y: np.ndarray,
        predicted: Mapping[str, np.ndarray],
        evaluations: Mapping[str, Evaluation],
        importance: pd.DataFrame,
    ) -> dict[str, bytes]:
        from steelthread_training.plots import calibration_plot, importance_plot, pr_plot, roc_plot

        return {
            "roc.png": roc_plot(y, predicted),
            "pr.png": pr_plot(y, predicted),
            "calibration.png": calibration_plot({k: e.calibration for k, e in evaluations.items()}),
            "importance.png": importance_plot(importance),
        }

    def slice_header(self) -> Sequence[str]:
        return ("ROC AUC", "approval rate")

    def slice_cells(self, row: Any) -> Sequence[str]:
        assert isinstance(row, SliceMetric)
        return (_f(row.roc_auc), _f(row.approval_rate))

    def fairness_line(self, evaluation: Evaluation, config: GateConfig) -> str:
        fair = evaluation.fairness
        if not isinstance(fair, Fairness):
            return f"Fairness: the protected attribute `{evaluation.protected}` was not in the test rows."
        rates = ", ".join(f"{g}: {r:.3f}" for g, r in fair.approval_rates.items())
        return (
            f"Approval rates by `{fair.column}`: {rates}; ratio {_f(fair.ratio)} "
            f"(the 80% rule asks for at least {config.min_fairness_ratio:g}). "
            "The protected attribute is never a model input."
        )
