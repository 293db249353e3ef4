"""Multiclass: every class's probability from LightGBM `multiclass` against a multinomial logistic
regression; macro F1 first (higher is better), accuracy and log loss; slices by macro F1; fairness as the
ratio of the worst to the best protected group's macro F1. The ONNX graph's `probabilities` is [N, K]; the
package's score (what serving and batch answer, and what smoke bounds are in) is one class's probability,
`probabilities[:, score_class]` (training.yaml's `multiclass.score_class`, default the last class), named
in the manifest's `onnx.positive_class_index` and described in its `score`. No decision threshold."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from steelthread_contracts.package import Task
from steelthread_training.config import GateConfig, TrainingConfig, ValidationConfig
from steelthread_training.errors import TrainingError
from steelthread_training.evaluation import Evaluation
from steelthread_training.export import OUTPUT_NAME
from steelthread_training.gate import NOT_APPLICABLE, GateCheck, check, fairness_check
from steelthread_training.tasks import TaskKind
from steelthread_training.validation import Check


def _f(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"


@dataclass(frozen=True)
class MulticlassMetrics:
    rows: int
    classes: int
    macro_f1: float
    accuracy: float
    log_loss: float

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class MulticlassSlice:
    column: str
    value: str
    rows: int
    classes_present: int
    macro_f1: float
    accuracy: float
    gated: bool


@dataclass(frozen=True)
class F1Fairness:
    column: str
    macro_f1: dict[str, float]
    rows: dict[str, int]
    ratio: float
    """min group macro F1 / max group macro F1 (1.0 = every group is classified equally well)."""


def macro_f1(y: np.ndarray, proba: np.ndarray) -> float:
    """Macro F1 of the most probable class over the classes present in the labels or the predictions."""
    from sklearn.metrics import f1_score

    if not len(y):
        return math.nan
    return float(f1_score(y, proba.argmax(axis=1), average="macro", zero_division=0))


def log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import log_loss as sk_log_loss

    if not len(y):
        return math.nan
    clipped = np.clip(proba, 1e-15, 1.0)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    return float(sk_log_loss(y, clipped, labels=list(range(proba.shape[1]))))


def metrics(y: np.ndarray, proba: np.ndarray) -> MulticlassMetrics:
    return MulticlassMetrics(
        rows=len(y),
        classes=int(proba.shape[1]),
        macro_f1=macro_f1(y, proba),
        accuracy=float((proba.argmax(axis=1) == y).mean()) if len(y) else math.nan,
        log_loss=log_loss(y, proba),
    )


def confusion(y: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
    """Rows: true class, columns: predicted class (counts)."""
    k = proba.shape[1]
    table = np.zeros((k, k), dtype=np.int64)
    np.add.at(table, (y.astype(np.int64), proba.argmax(axis=1)), 1)
    return pd.DataFrame(table, index=[f"true_{i}" for i in range(k)], columns=[f"pred_{i}" for i in range(k)])


def _groups(frame: pd.DataFrame, column: str) -> np.ndarray:
    return np.asarray(frame[column].astype("object").fillna("missing").astype(str).to_numpy())


def slice_metrics(
    frame: pd.DataFrame, y: np.ndarray, proba: np.ndarray, columns: Sequence[str], min_rows: int
) -> tuple[MulticlassSlice, ...]:
    out: list[MulticlassSlice] = []
    for column in columns:
        if column not in frame.columns:
            continue
        values = _groups(frame, column)
        for value in sorted(set(values)):
            mask = values == value
            ys, ps = y[mask], proba[mask]
            present = len(set(ys.tolist()))
            out.append(
                MulticlassSlice(
                    column=column,
                    value=value,
                    rows=int(mask.sum()),
                    classes_present=present,
                    macro_f1=macro_f1(ys, ps),
                    accuracy=float((ps.argmax(axis=1) == ys).mean()),
                    gated=bool(mask.sum() >= min_rows and present >= 2),
                )
            )
    return tuple(out)


def f1_fairness(
    frame: pd.DataFrame, y: np.ndarray, proba: np.ndarray, column: str | None
) -> F1Fairness | None:
    if column is None or column not in frame.columns:
        return None
    groups = _groups(frame, column)
    scores: dict[str, float] = {}
    rows: dict[str, int] = {}
    for group in sorted(set(groups)):
        mask = groups == group
        rows[group] = int(mask.sum())
        scores[group] = macro_f1(y[mask], proba[mask])
    top = max(scores.values()) if scores else math.nan
    ratio = min(scores.values()) / top if scores and top > 0 else math.nan
    return F1Fairness(column=column, macro_f1=scores, rows=rows, ratio=float(ratio))


class MulticlassTask(TaskKind):
    task: ClassVar[Task] = Task.MULTICLASS
    primary: ClassVar[str] = "macro_f1"
    higher_is_better: ClassVar[bool] = True
    summary: ClassVar[tuple[str, ...]] = ("macro_f1", "accuracy", "log_loss")

    def classes(self, y: np.ndarray, config: TrainingConfig) -> int | None:
        k = config.multiclass.classes or (int(y.max()) + 1 if len(y) else 0)
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= k):
            raise TrainingError(f"multiclass labels must be 0..{k - 1}, got {int(y.min())}..{int(y.max())}")
        if k < 3:
            raise TrainingError(f"a multiclass model needs at least 3 classes, got {k}")
        return k

    def score_column(self, config: TrainingConfig, classes: int | None) -> int | None:
        if classes is None:
            raise TrainingError("a multiclass score needs the number of classes")
        column = classes - 1 if config.multiclass.score_class is None else config.multiclass.score_class
        if not 0 <= column < classes:
            raise TrainingError(f"multiclass.score_class {column} is not one of the {classes} classes")
        return column

    def onnx_example(self, predicted: np.ndarray) -> np.ndarray:
        return predicted

    def describe_score(self, config: TrainingConfig, classes: int | None) -> str:
        column = self.score_column(config, classes)
        return (
            f"{OUTPUT_NAME}[:, {column}] = P(label = {column}) of {classes} classes "
            f"({OUTPUT_NAME}[:, k] = P(label = k); the predicted class is the argmax)"
        )

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
        y = y.astype(np.int64)
        return Evaluation(
            model=name,
            threshold=None,
            metrics=metrics(y, predicted),
            calibration=confusion(y, predicted),
            slices=slice_metrics(frame, y, predicted, config.slices.columns, config.slices.min_rows),
            fairness=f1_fairness(frame, y, predicted, protected),
            protected=protected,
            task=Task.MULTICLASS,
        )

    def primary_value(self, y: np.ndarray, predicted: np.ndarray, config: TrainingConfig) -> float:
        if predicted.ndim != 2:
            return math.nan
        return macro_f1(y.astype(np.int64), predicted)

    def gate_checks(
        self, candidate: Evaluation, baseline: Evaluation, config: GateConfig
    ) -> tuple[list[GateCheck], list[str]]:
        m, b = candidate.metrics, baseline.metrics
        assert isinstance(m, MulticlassMetrics)
        assert isinstance(b, MulticlassMetrics)
        floors = config.multiclass
        checks = [check("macro_f1", m.macro_f1, ">=", floors.min_macro_f1)]
        if floors.max_log_loss is not None:
            checks.append(check("log_loss", m.log_loss, "<=", floors.max_log_loss))
        checks.append(
            check(
                "gain_over_baseline.macro_f1",
                m.macro_f1 - b.macro_f1,
                ">",
                floors.min_gain_over_baseline,
                note=f"baseline macro_f1 {b.macro_f1:.4f}",
            )
        )
        for s in candidate.slices:
            if s.gated and isinstance(s, MulticlassSlice):
                checks.append(
                    check(f"slice.{s.column}={s.value}.macro_f1", s.macro_f1, ">=", floors.min_slice_macro_f1)
                )
        notes: list[str] = []
        fair = candidate.fairness
        if candidate.protected is None:
            notes.append(NOT_APPLICABLE)
        elif not isinstance(fair, F1Fairness):
            checks.append(
                check("fairness.macro_f1_ratio", None, ">=", floors.min_fairness_ratio, "no group column")
            )
        else:
            scores = ", ".join(f"{g}={v:.3f}" for g, v in fair.macro_f1.items())
            checks.append(
                fairness_check(
                    f"fairness.{fair.column}.macro_f1_ratio",
                    fair.ratio,
                    ">=",
                    floors.min_fairness_ratio,
                    fair,
                    config.fairness_min_group_rows,
                    f"macro F1 by group {scores}",
                )
            )
        return checks, notes

    def champion_tolerance(self, config: GateConfig) -> float:
        return config.multiclass.champion_tolerance

    def primary_floor(self, config: GateConfig) -> float | None:
        return config.multiclass.min_macro_f1

    def label_checks(
        self, label: pd.Series, config: ValidationConfig, *, objective: str | None = None
    ) -> list[Check]:
        numeric = pd.api.types.is_numeric_dtype(label.dtype) and not pd.api.types.is_bool_dtype(label.dtype)
        values = label.to_numpy(dtype=np.float64) if numeric else np.zeros(0)
        whole = numeric and bool(np.isfinite(values).all()) and bool((values == np.round(values)).all())
        ok = whole and bool((values >= 0).all())
        checks = [Check("schema.label", str(label.dtype), "class numbers 0..K-1, no missing", ok)]
        if not ok or not len(values):
            return checks
        counts = np.bincount(values.astype(np.int64))
        present = int((counts > 0).sum())
        checks.append(Check("label.classes", float(present), ">= 3", present >= 3))
        rarest = int(counts[counts > 0].min())
        checks.append(
            Check(
                "label.min_class_rows",
                float(rarest),
                f">= {config.min_positives}",
                rarest >= config.min_positives,
            )
        )
        return checks

    def package_metrics(self, candidate: Evaluation, baseline: Evaluation) -> dict[str, float]:
        m, b = candidate.metrics, baseline.metrics
        assert isinstance(m, MulticlassMetrics)
        assert isinstance(b, MulticlassMetrics)
        return {
            "macro_f1": m.macro_f1,
            "accuracy": m.accuracy,
            "log_loss": m.log_loss,
            "classes": float(m.classes),
            "baseline_macro_f1": b.macro_f1,
        }

    def fairness_metric(self) -> str:
        return "fairness.macro_f1_ratio"

    def plots(
        self,
        y: np.ndarray,
        predicted: Mapping[str, np.ndarray],
        evaluations: Mapping[str, Evaluation],
        importance: pd.DataFrame,
    ) -> dict[str, bytes]:
        from steelthread_training.plots import confusion_plot, importance_plot

        first = next(iter(evaluations.values()))
        return {
            "confusion.png": confusion_plot(first.calibration),
            "importance.png": importance_plot(importance),
        }

    def slice_header(self) -> Sequence[str]:
        return ("macro F1", "accuracy")

    def slice_cells(self, row: Any) -> Sequence[str]:
        assert isinstance(row, MulticlassSlice)
        return (_f(row.macro_f1), _f(row.accuracy))

    def fairness_line(self, evaluation: Evaluation, config: GateConfig) -> str:
        fair = evaluation.fairness
        if not isinstance(fair, F1Fairness):
            return f"Fairness: the protected attribute `{evaluation.protected}` was not in the test rows."
        scores = ", ".join(f"{g}: {v:.3f}" for g, v in fair.macro_f1.items())
        return (
            f"Macro F1 by `{fair.column}`: {scores}; worst / best {_f(fair.ratio)} (the gate asks for at "
            f"least {config.multiclass.min_fairness_ratio:g}). "
            "The protected attribute is never a model input."
        )
