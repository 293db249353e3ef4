"""Know quality before labels: confidence-based performance estimation (CBPE) for a binary model.

Labels arrive late (the credit example's after months), so the realised ROC AUC describes a cohort long
gone. CBPE, as NannyML introduced it, estimates it on the current window from the scores alone: the scores
are first calibrated on the reference (isotonic regression of the label on the score, so a calibrated
score is the probability of the positive class), then each row counts as `p` of a positive and `1 - p` of
a negative. Sweeping the threshold down the model's own ranking gives the expected true- and false-positive
rates, whose curve's area is the expected ROC AUC; the mean calibrated score is the expected positive rate.

It is exact in expectation while P(label | score) stays what the reference showed: a shift of the inputs
(covariate shift), however large, changes the estimate as it changes the truth. A change of the relation
itself (concept drift: the same customer now defaults more often) leaves the scores, and so the estimate,
unchanged: only labels show it, which is what the realised metric and its alert are for.

NannyML is not a dependency: the estimate is these few lines over scikit-learn's isotonic regression (which
Evidently already brings), tested against the realised metric on generated covariate-shift scenarios
(tests/monitoring/test_monitoring_cbpe.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Calibrator:
    """Score -> P(positive), fitted on the reference's scores and labels (isotonic, clipped to the
    reference's score range)."""

    model: object

    @classmethod
    def fit(cls, scores: NDArray[np.float64], labels: NDArray[np.int64]) -> Calibrator:
        from sklearn.isotonic import IsotonicRegression

        keep = np.isfinite(scores)
        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
        model.fit(scores[keep], labels[keep].astype(np.float64))
        return cls(model=model)

    def __call__(self, scores: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(self.model.predict(scores), dtype=np.float64)  # type: ignore[attr-defined]


def expected_roc_auc(scores: NDArray[np.float64], probabilities: NDArray[np.float64]) -> float:
    """The ROC AUC expected when row i is positive with probability `probabilities[i]`, ranked by `scores`.

    Thresholds run down the distinct scores (tied scores move together, as a real threshold would); NaN when
    every row is certainly positive or certainly negative (no curve)."""
    order = np.argsort(-scores, kind="stable")
    ranked, p = scores[order], probabilities[order]
    last_of_tie = np.r_[ranked[1:] != ranked[:-1], True]
    tp = np.cumsum(p)[last_of_tie]
    fp = np.cumsum(1.0 - p)[last_of_tie]
    if tp[-1] <= 0.0 or fp[-1] <= 0.0:
        return float("nan")
    tpr = np.r_[0.0, tp / tp[-1]]
    fpr = np.r_[0.0, fp / fp[-1]]
    return float(np.trapezoid(tpr, fpr))


@dataclass(frozen=True)
class Estimate:
    """CBPE's numbers for one window."""

    roc_auc: float
    positive_rate: float
    rows: int

    def as_dict(self) -> dict[str, float]:
        return {"roc_auc": self.roc_auc, "positive_rate": self.positive_rate}


def estimate(
    reference_scores: NDArray[np.float64],
    reference_labels: NDArray[np.int64],
    current_scores: NDArray[np.float64],
) -> Estimate | None:
    """The expected ROC AUC and positive rate of the current window; None without usable rows (no finite
    current score, or a reference without both classes to calibrate on)."""
    labelled = np.isfinite(reference_scores) & np.isin(reference_labels, (0, 1))
    if len(np.unique(reference_labels[labelled])) < 2:
        return None
    current = current_scores[np.isfinite(current_scores)]
    if len(current) == 0:
        return None
    calibrate = Calibrator.fit(reference_scores[labelled], reference_labels[labelled])
    probabilities = calibrate(current)
    return Estimate(
        roc_auc=expected_roc_auc(current, probabilities),
        positive_rate=float(probabilities.mean()),
        rows=len(current),
    )
