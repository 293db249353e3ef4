"""What a training test expects of the active use case's task, so the same test runs on every task.

Each task gates on its own metric (binary ROC AUC, regression MAE, multiclass macro F1) and checks its own
label; a test that needs a gate no model passes, or a label check the generated data fails, takes it here
instead of writing the binary one.
"""

from __future__ import annotations

from typing import Final

from steelthread_contracts.package import Task
from steelthread_training.frame import TASK
from steelthread_training.tasks import task_kind

KIND: Final = task_kind(TASK)
PRIMARY: Final = KIND.primary
"""The metric the gate leads with and the champion is compared on."""
CHAMPION_CHECK: Final = f"champion.{PRIMARY}_{'relative_gain' if KIND.relative_champion else 'delta'}"

STRICT_GATE: Final = {
    Task.BINARY: "gate:\n  min_roc_auc: 0.99\n",
    Task.REGRESSION: "gate:\n  regression:\n    max_mae: 0.001\n",
    Task.MULTICLASS: "gate:\n  multiclass:\n    min_macro_f1: 0.99\n",
}[TASK]
"""A training.yaml whose floor on the primary metric no model of the generated data reaches."""

INSANE_LABEL: Final = {
    Task.BINARY: ("validation:\n  label_rate: [0.5, 0.9]\n", "label.rate"),
    Task.REGRESSION: ("validation:\n  label_range: [0, 1]\n", "label.range"),
    Task.MULTICLASS: ("validation:\n  min_positives: 1000000\n", "label.min_class_rows"),
}[TASK]
"""A training.yaml whose label check the generated data fails, and the check's name."""

PLOTS: Final = {
    Task.BINARY: ("roc", "pr", "calibration", "importance"),
    Task.REGRESSION: ("predicted_vs_actual", "calibration", "importance"),
    Task.MULTICLASS: ("confusion", "importance"),
}[TASK]
"""The figures a training run logs under plots/ (PNG), per task."""
EVALUATION_TABLE: Final = (
    "evaluation/confusion.csv" if TASK is Task.MULTICLASS else "evaluation/calibration.csv"
)
"""The calibration table a run logs (a confusion matrix for multiclass)."""
