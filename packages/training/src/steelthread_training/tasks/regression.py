"""Regression: the label itself, from LightGBM `regression`, `poisson` or `tweedie` (training.yaml's
`lightgbm.objective`) against a Ridge regression; MAE first (lower is better), RMSE, R² and, for the count
objectives, Poisson deviance; slices by MAE; fairness as the ratio of the worst to the best protected
group's MAE. No decision threshold: the package's score is the prediction, in label units, and the use
case's decision policy holds any cuts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from steelthread_contracts.package import Task
from steelthread_training.config import COUNT_OBJECTIVES, GateConfig, TrainingConfig, ValidationConfig
from steelthread_training.evaluation import Evaluation
from steelthread_training.export import REGRESSION_OUTPUT, Scale
from steelthread_training.gate import NOT_APPLICABLE, GateCheck, check, fairness_check
from steelthread_training.tasks import TaskKind
from steelthread_training.validation import Check


def _f(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4g}"


@dataclass(frozen=True)
class RegressionMetrics:
    rows: int
    mae: float
    rmse: float
    r2: float
    poisson_deviance: float
    """Mean Poisson deviance (count objectives; NaN otherwise, or when a prediction is not positive)."""
    mean_label: float
    mean_score: float

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class RegressionSlice:
    column: str
    value: str
    rows: int
    mae: float
    rmse: float
    mean_label: float
    mean_score: float
    mae_ratio: float
    """This slice's MAE / the overall MAE (what the gate bounds)."""
    gated: bool


@dataclass(frozen=True)
class ErrorFairness:
    column: str
    mae: dict[str, float]
    rows: dict[str, int]
    ratio: float
    """max group MAE / min group MAE (1.0 = every group is predicted equally well)."""


def mae(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(np.abs(p - y))) if len(y) else math.nan


def rmse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.sqrt(np.mean((p - y) ** 2))) if len(y) else math.nan


def r2(y: np.ndarray, p: np.ndarray) -> float:
    """1 - SSE / SST; NaN when the label does not vary (nothing to explain)."""
    if len(y) < 2:
        return math.nan
    total = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - p) ** 2)) / total if total > 0 else math.nan


def poisson_deviance(y: np.ndarray, p: np.ndarray) -> float:
    """Mean Poisson deviance, 2 * mean(y log(y / p) - (y - p)); NaN unless every prediction is positive
    and every label non-negative (a linear baseline can predict below zero)."""
    if not len(y) or (p <= 0).any() or (y < 0).any():
        return math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / p), 0.0)
    return float(2.0 * np.mean(term - (y - p)))


def metrics(y: np.ndarray, p: np.ndarray, deviance: bool) -> RegressionMetrics:
    return RegressionMetrics(
        rows=len(y),
        mae=mae(y, p),
        rmse=rmse(y, p),
        r2=r2(y, p),
        poisson_deviance=poisson_deviance(y, p) if deviance else math.nan,
        mean_label=float(y.mean()) if len(y) else math.nan,
        mean_score=float(p.mean()) if len(p) else math.nan,
    )


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Equal-count bins of the prediction: mean predicted vs mean observed label."""
    order = np.argsort(p, kind="stable")
    chunks = [c for c in np.array_split(order, min(bins, max(1, len(p)))) if len(c)]
    return pd.DataFrame(
        [
            {
                "bin": i,
                "rows": len(c),
                "score_min": float(p[c].min()),
                "score_max": float(p[c].max()),
                "mean_score": float(p[c].mean()),
                "observed_mean": float(y[c].mean()),
            }
            for i, c in enumerate(chunks)
        ]
    )


def _groups(frame: pd.DataFrame, column: str) -> np.ndarray:
    return np.asarray(frame[column].astype("object").fillna("missing").astype(str).to_numpy())


def slice_metrics(
    frame: pd.DataFrame, y: np.ndarray, p: np.ndarray, columns: Sequence[str], min_rows: int
) -> tuple[RegressionSlice, ...]:
    overall = mae(y, p)
    out: list[RegressionSlice] = []
    for column in columns:
        if column not in frame.columns:
            continue
        values = _groups(frame, column)
        for value in sorted(set(values)):
            mask = values == value
            ys, ps = y[mask], p[mask]
            slice_mae = mae(ys, ps)
            out.append(
                RegressionSlice(
                    column=column,
                    value=value,
                    rows=int(mask.sum()),
                    mae=slice_mae,
                    rmse=rmse(ys, ps),
                    mean_label=float(ys.mean()),
                    mean_score=float(ps.mean()),
                    mae_ratio=slice_mae / overall if overall > 0 else math.nan,
                    gated=bool(mask.sum() >= min_rows),
                )
            )
    return tuple(out)


def error_fairness(
    frame: pd.DataFrame, y: np.ndarray, p: np.ndarray, column: str | None
) -> ErrorFairness | None:
    """MAE per group of `column` and the worst / best ratio (None when there is no such column)."""
    if column is None or column not in frame.columns:
        return None
    groups = _groups(frame, column)
    errors: dict[str, float] = {}
    rows: dict[str, int] = {}
    for group in sorted(set(groups)):
        mask = groups == group
        rows[group] = int(mask.sum())
        errors[group] = mae(y[mask], p[mask])
    best = min(errors.values()) if errors else math.nan
    ratio = max(errors.values()) / best if errors and best > 0 else math.nan
    return ErrorFairness(column=column, mae=errors, rows=rows, ratio=float(ratio))


class RegressionTask(TaskKind):
    task: ClassVar[Task] = Task.REGRESSION
    primary: ClassVar[str] = "mae"
    higher_is_better: ClassVar[bool] = False
    summary: ClassVar[tuple[str, ...]] = ("mae", "rmse", "r2", "poisson_deviance", "mean_score")
    parity_scale: ClassVar[Scale] = "relative"
    relative_champion: ClassVar[bool] = True

    def describe_score(self, config: TrainingConfig, classes: int | None) -> str:
        objective = config.lightgbm.objective or "regression"
        return f"{REGRESSION_OUTPUT}[:, 0] = the predicted label (LightGBM objective {objective})"

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
        y = y.astype(np.float64)
        deviance = config.lightgbm.objective in COUNT_OBJECTIVES
        return Evaluation(
            model=name,
            threshold=None,
            metrics=metrics(y, predicted, deviance),
            calibration=calibration_table(y, predicted),
            slices=slice_metrics(frame, y, predicted, config.slices.columns, config.slices.min_rows),
            fairness=error_fairness(frame, y, predicted, protected),
            protected=protected,
            task=Task.REGRESSION,
        )

    def primary_value(self, y: np.ndarray, predicted: np.ndarray, config: TrainingConfig) -> float:
        return mae(y.astype(np.float64), predicted)

    def gate_checks(
        self, candidate: Evaluation, baseline: Evaluation, config: GateConfig
    ) -> tuple[list[GateCheck], list[str]]:
        m, b = candidate.metrics, baseline.metrics
        assert isinstance(m, RegressionMetrics)
        assert isinstance(b, RegressionMetrics)
        floors = config.regression
        checks: list[GateCheck] = []
        if floors.max_mae is not None:
            checks.append(check("mae", m.mae, "<=", floors.max_mae))
        if floors.min_r2 is not None:
            checks.append(check("r2", m.r2, ">=", floors.min_r2))
        if floors.max_poisson_deviance is not None:
            checks.append(check("poisson_deviance", m.poisson_deviance, "<=", floors.max_poisson_deviance))
        gain = (b.mae - m.mae) / b.mae if b.mae > 0 else math.nan
        checks.append(
            check(
                "gain_over_baseline.mae",
                gain,
                ">",
                floors.min_gain_over_baseline,
                note=f"relative MAE reduction; baseline mae {b.mae:.4g}, model {m.mae:.4g}",
            )
        )
        for s in candidate.slices:
            if not (s.gated and isinstance(s, RegressionSlice)):
                continue
            if floors.max_slice_mae is not None:
                checks.append(check(f"slice.{s.column}={s.value}.mae", s.mae, "<=", floors.max_slice_mae))
            if floors.max_slice_mae_ratio is not None:
                checks.append(
                    check(
                        f"slice.{s.column}={s.value}.mae_ratio",
                        s.mae_ratio,
                        "<=",
                        floors.max_slice_mae_ratio,
                        note=f"slice mae {s.mae:.4g} / overall {m.mae:.4g}",
                    )
                )
        notes: list[str] = []
        fair = candidate.fairness
        if candidate.protected is None:
            notes.append(NOT_APPLICABLE)
        elif not isinstance(fair, ErrorFairness):
            checks.append(
                check("fairness.error_ratio", None, "<=", floors.max_error_ratio, "no group column")
            )
        else:
            errors = ", ".join(f"{g}={e:.4g}" for g, e in fair.mae.items())
            checks.append(
                fairness_check(
                    f"fairness.{fair.column}.error_ratio",
                    fair.ratio,
                    "<=",
                    floors.max_error_ratio,
                    fair,
                    config.fairness_min_group_rows,
                    f"MAE by group {errors}",
                )
            )
        return checks, notes

    def champion_tolerance(self, config: GateConfig) -> float:
        return config.regression.champion_tolerance

    def primary_floor(self, config: GateConfig) -> float | None:
        return config.regression.max_mae

    def label_checks(
        self, label: pd.Series, config: ValidationConfig, *, objective: str | None = None
    ) -> list[Check]:
        numeric = pd.api.types.is_numeric_dtype(label.dtype) and not pd.api.types.is_bool_dtype(label.dtype)
        values = label.to_numpy(dtype=np.float64) if numeric else np.zeros(0)
        finite = numeric and bool(np.isfinite(values).all())
        checks = [Check("schema.label", str(label.dtype), "numbers, no missing or infinite", finite)]
        if not finite or not len(values):
            return checks
        spread = float(values.std())
        checks.append(Check("label.spread", round(spread, 6), "> 0 (a constant label)", spread > 0))
        if config.label_range is not None:
            lo, hi = config.label_range
            outside = int(((values < lo) | (values > hi)).sum())
            checks.append(Check("label.range", float(outside), f"0 rows outside [{lo}, {hi}]", outside == 0))
        if objective in COUNT_OBJECTIVES:
            negative = int((values < 0).sum())
            checks.append(
                Check("label.non_negative", float(negative), f"0 rows below 0 ({objective})", negative == 0)
            )
        return checks

    def package_metrics(self, candidate: Evaluation, baseline: Evaluation) -> dict[str, float]:
        m, b = candidate.metrics, baseline.metrics
        assert isinstance(m, RegressionMetrics)
        assert isinstance(b, RegressionMetrics)
        out = {"mae": m.mae, "rmse": m.rmse, "r2": m.r2, "mean_label": m.mean_label, "baseline_mae": b.mae}
        if math.isfinite(m.poisson_deviance):
            out["poisson_deviance"] = m.poisson_deviance
        return out

    def fairness_metric(self) -> str:
        return "fairness.error_ratio"

    def plots(
        self,
        y: np.ndarray,
        predicted: Mapping[str, np.ndarray],
        evaluations: Mapping[str, Evaluation],
        importance: pd.DataFrame,
    ) -> dict[str, bytes]:
        from steelthread_training.plots import calibration_plot, importance_plot, predicted_vs_actual_plot

        return {
            "predicted_vs_actual.png": predicted_vs_actual_plot(y, predicted),
            "calibration.png": calibration_plot({k: e.calibration for k, e in evaluations.items()}),
            "importance.png": importance_plot(importance),
        }

    def slice_header(self) -> Sequence[str]:
        return ("MAE", "MAE / overall")

    def slice_cells(self, row: Any) -> Sequence[str]:
        assert isinstance(row, RegressionSlice)
        return (_f(row.mae), _f(row.mae_ratio))

    def fairness_line(self, evaluation: Evaluation, config: GateConfig) -> str:
        fair = evaluation.fairness
        if not isinstance(fair, ErrorFairness):
            return f"Fairness: the protected attribute `{evaluation.protected}` was not in the test rows."
        errors = ", ".join(f"{g}: {e:.4g}" for g, e in fair.mae.items())
        return (
            f"MAE by `{fair.column}`: {errors}; worst / best {_f(fair.ratio)} (the gate allows at most "
            f"{config.regression.max_error_ratio:g}). The protected attribute is never a model input."
        )
