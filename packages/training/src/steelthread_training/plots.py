"""ROC, precision-recall, calibration and importance plots as PNG bytes (matplotlib, no display).

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
    fig, ax = _figure()
    for name, table in tables.items():
        ax.plot(table["mean_score"], table["observed_rate"], marker="o", label=name)  # type: ignore[attr-defined]
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")  # type: ignore[attr-defined]
    ax.set(xlabel="mean predicted", ylabel="observed default rate", title="Calibration (test)")  # type: ignore[attr-defined]
    ax.legend()  # type: ignore[attr-defined]
    return _png(fig)


def importance_plot(importance: pd.DataFrame, top: int = 20) -> bytes:
    fig, ax = _figure()
    head = importance.head(top).iloc[::-1]
    ax.barh(head["feature"], head["gain"])  # type: ignore[attr-defined]
    ax.set(xlabel="total gain", title="LightGBM feature importance")  # type: ignore[attr-defined]
    return _png(fig)
