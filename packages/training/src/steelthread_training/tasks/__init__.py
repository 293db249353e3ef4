"""Tasks: what differs between a binary, a regression and a multiclass model, behind one small interface.

The task comes from the use case's declaration (`active().task`); every stage that depends on it asks
`task_kind(task)` instead of branching itself. A `TaskKind` says, for its task:

- models: LightGBM's objective and the label's dtype (`objective`), the baseline is chosen in `models`;
- decision: the threshold chosen on the validation rows (binary only: the other tasks' packages carry none,
  their use case's decision policy holds the cuts);
- evaluation: metrics, slices and fairness on a set of rows (`evaluate`), the primary metric the champion
  is compared on (`primary`, `higher_is_better`, `primary_value`);
- gate: the task's floors (`gate_checks`) and the champion check;
- export: the ONNX output, where the package's score is in it, and how parity is measured;
- validation: what a sane label is (`label_checks`);
- the package and the run log: its metrics, the score's description, the summary rows the CLI and the
  model card print, and the plots.

`binary` keeps the behaviour the credit example was built with, number for number.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from steelthread_contracts.package import Task
from steelthread_training.config import GateConfig, TrainingConfig, ValidationConfig
from steelthread_training.evaluation import Evaluation
from steelthread_training.export import Scale
from steelthread_training.gate import ChampionComparison, GateCheck, champion_check
from steelthread_training.validation import Check


class TaskKind(ABC):
    """One task's part in every stage (see the module docstring)."""

    task: ClassVar[Task]
    primary: ClassVar[str]
    """The metric the champion comparison and the run summary lead with."""
    higher_is_better: ClassVar[bool]
    summary: ClassVar[tuple[str, ...]]
    """Metrics the CLI's table and the model card show, in order."""
    parity_scale: ClassVar[Scale] = "absolute"
    relative_champion: ClassVar[bool] = False

    # --- models -------------------------------------------------------------------------------------
    def classes(self, y: np.ndarray, config: TrainingConfig) -> int | None:
        """K for a multiclass model; None otherwise."""
        return None

    # --- decision -----------------------------------------------------------------------------------
    def decision(
        self, y: np.ndarray, predicted: np.ndarray, config: TrainingConfig
    ) -> tuple[float | None, float | None]:
        """(threshold, review_threshold) chosen on the validation rows; (None, None) without a decision."""
        return None, None

    # --- scores -------------------------------------------------------------------------------------
    def score_column(self, config: TrainingConfig, classes: int | None) -> int | None:
        """Where the package's score is in the ONNX output (`onnx.positive_class_index`); None: column 0
        of a [N, 1] output."""
        return None

    def score(self, predicted: np.ndarray, column: int | None) -> np.ndarray:
        """The package's score per row from a prediction (`TrainedModel.score`'s shape)."""
        if predicted.ndim == 1:
            return predicted
        return np.asarray(predicted[:, 0 if column is None else column])

    def onnx_example(self, predicted: np.ndarray) -> np.ndarray:
        """The ONNX output for these predictions (the registered signature's example output)."""
        return predicted.reshape(len(predicted), -1)

    @abstractmethod
    def describe_score(self, config: TrainingConfig, classes: int | None) -> str:
        """The score in words, for the manifest (`score`) and the graph's doc string."""

    # --- evaluation ---------------------------------------------------------------------------------
    @abstractmethod
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
        """Metrics, calibration, slices (`config.slices`) and fairness (when `protected` is set)."""

    @abstractmethod
    def primary_value(self, y: np.ndarray, predicted: np.ndarray, config: TrainingConfig) -> float:
        """The primary metric of these predictions (how a champion's package is scored on this test set)."""

    def metric(self, evaluation: Evaluation, name: str) -> float:
        value = evaluation.metrics.as_dict().get(name, float("nan"))
        return float(value)

    # --- gate ---------------------------------------------------------------------------------------
    @abstractmethod
    def gate_checks(
        self, candidate: Evaluation, baseline: Evaluation, config: GateConfig
    ) -> tuple[list[GateCheck], list[str]]:
        """The task's floors, gain over the baseline, slice and fairness checks; and notes for gate.json."""

    @abstractmethod
    def champion_tolerance(self, config: GateConfig) -> float: ...

    @abstractmethod
    def primary_floor(self, config: GateConfig) -> float | None:
        """The gate's absolute floor (or ceiling) on the primary metric; None: the gate sets none."""

    def champion_check(
        self, candidate: Evaluation, champion: ChampionComparison, config: GateConfig
    ) -> GateCheck:
        return champion_check(
            self.primary,
            self.metric(candidate, self.primary),
            champion,
            self.champion_tolerance(config),
            higher_is_better=self.higher_is_better,
            relative=self.relative_champion,
        )

    # --- validation ---------------------------------------------------------------------------------
    @abstractmethod
    def label_checks(
        self, label: pd.Series, config: ValidationConfig, *, objective: str | None = None
    ) -> list[Check]:
        """Checks on the label column (dtype, values, balance)."""

    # --- package and run log ------------------------------------------------------------------------
    @abstractmethod
    def package_metrics(self, candidate: Evaluation, baseline: Evaluation) -> dict[str, float]:
        """The test-set metrics package.json records."""

    def fairness_metric(self) -> str:
        """The MLflow metric name of the fairness ratio."""
        return "fairness.ratio"

    @abstractmethod
    def plots(
        self,
        y: np.ndarray,
        predicted: Mapping[str, np.ndarray],
        evaluations: Mapping[str, Evaluation],
        importance: pd.DataFrame,
    ) -> dict[str, bytes]:
        """PNG bytes by file name (logged under plots/)."""

    def slice_header(self) -> Sequence[str]:
        """The model card's slice table: the metric columns after `slice` and `rows`."""
        return ()

    def slice_cells(self, row: Any) -> Sequence[str]:
        return ()

    @abstractmethod
    def fairness_line(self, evaluation: Evaluation, config: GateConfig) -> str:
        """The model card's sentence about fairness (the protected attribute exists)."""


def task_kind(task: Task | str) -> TaskKind:
    """The implementation of `task` (binary, regression or multiclass)."""
    from steelthread_training.tasks.binary import BinaryTask
    from steelthread_training.tasks.multiclass import MulticlassTask
    from steelthread_training.tasks.regression import RegressionTask

    kinds: dict[Task, TaskKind] = {
        Task.BINARY: BinaryTask(),
        Task.REGRESSION: RegressionTask(),
        Task.MULTICLASS: MulticlassTask(),
    }
    return kinds[Task(task)]


__all__ = ["TaskKind", "task_kind"]
