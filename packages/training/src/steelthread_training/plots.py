"""Plots as PNG bytes (matplotlib, no display): ROC, precision-recall (binary), calibration (binary and
regression), predicted against actual (regression), confusion matrix (multiclass) and importance.

Returned as bytes rather than written, so the same figures go to MLflow, a test, or a file.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
import pandas as pd


def _figure() -> tuple[object, object]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=90)
    return fig, ax


def _png(fig: object) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return buffer.getvalue()


def roc_plot(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> bytes:
    from sklearn.metrics import roc_curve

    fig, ax = _figure()
    for name, p in scores.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=name)  # type: ignore[attr-defined]
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")  # type: ignore[attr-defined]
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")  # type: ignore[attr-defined]
    ax.legend()  # type: ignore[attr-defined]
    return _png(fig)


def pr_plot(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> bytes:
    from sklearn.metrics import precision_recall_curve

    fig, ax = _figure()
    for name, p in scores.items():
        precision, recall, _ = precision_recall_curve(y, p)
        ax.plot(recall, precision, label=name)  # type: ignore[attr-defined]
    ax.axhline(float(y.mean()), linestyle=":", color="grey")  # type: ignore[attr-defined]
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (test)")  # type: ignore[attr-defined]
    ax.legend()  # type: ignore[attr-defined]
    return _png(fig)


def calibration_plot(tables: Mapping[str, pd.DataFrame]) -> bytes:
    """Mean predicted against observed per score bin: `observed_rate` (binary) or `observed_mean`."""
    fig, ax = _figure()
    low, high = 0.0, 1.0
    observed = "observed_rate"
    for name, table in tables.items():
        observed = "observed_rate" if "observed_rate" in table.columns else "observed_mean"
        ax.plot(table["mean_score"], table[observed], marker="o", label=name)  # type: ignore[attr-defined]
        if observed == "observed_mean" and len(table):
            low = min(float(table["mean_score"].min()), float(table[observed].min()))
            high = max(float(table["mean_score"].max()), float(table[observed].max()))
    ax.plot([low, high], [low, high], linestyle=":", color="grey")  # type: ignore[attr-defined]
    ylabel = "observed positive rate" if observed == "observed_rate" else "observed mean label"
    ax.set(xlabel="mean predicted", ylabel=ylabel, title="Calibration (test)")  # type: ignore[attr-defined]
    ax.legend()  # type: ignore[attr-defined]
    return _png(fig)


def predicted_vs_actual_plot(
    y: np.ndarray, predicted: Mapping[str, np.ndarray], sample: int = 5_000
) -> bytes:
    """Each model's prediction against the label (at most `sample` rows, the same rows for every model)."""
    fig, ax = _figure()
    rows = np.linspace(0, len(y) - 1, min(sample, len(y))).astype(np.int64) if len(y) else np.zeros(0, int)
    for name, p in predicted.items():
        ax.scatter(y[rows], p[rows], s=4, alpha=0.4, label=name)  # type: ignore[attr-defined]
    if len(y):
        low, high = float(np.min(y)), float(np.max(y))
        ax.plot([low, high], [low, high], linestyle=":", color="grey")  # type: ignore[attr-defined]
    ax.set(xlabel="actual", ylabel="predicted", title="Predicted vs actual (test)")  # type: ignore[attr-defined]
    ax.legend()  # type: ignore[attr-defined]
    return _png(fig)


def confusion_plot(table: pd.DataFrame) -> bytes:
    """A confusion matrix (rows true class, columns predicted class) as a heat map with counts."""
    fig, ax = _figure()
    values = table.to_numpy()
    ax.imshow(values, cmap="Blues")  # type: ignore[attr-defined]
    for (i, j), count in np.ndenumerate(values):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=8)  # type: ignore[attr-defined]
    ax.set(  # type: ignore[attr-defined]
        xticks=range(values.shape[1]),
        yticks=range(values.shape[0]),
        xlabel="predicted class",
        ylabel="true class",
        title="Confusion matrix (test)",
    )
    return _png(fig)


def importance_plot(importance: pd.DataFrame, top: int = 20) -> bytes:
    fig, ax = _figure()
    head = importance.head(top).iloc[::-1]
    ax.barh(head["feature"], head["gain"])  # type: ignore[attr-defined]
    ax.set(xlabel="total gain", title="LightGBM feature importance")  # type: ignore[attr-defined]
    return _png(fig)
