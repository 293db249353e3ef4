"""Champion against challenger on the same labelled requests (shadow traffic): a paired test, an effect
size with its interval, and a verdict only once enough rows are labelled.

Shadow scoring gives both models' scores for every request, so the comparison is paired, which is far more
sensitive than comparing two groups: the requests' own difficulty cancels out.

- binary: the difference of ROC AUCs by DeLong's test for two correlated ROC curves (DeLong, DeLong and
  Clarke-Pearson 1988, Biometrics 44:837), computed with the midrank algorithm of Sun and Xu (2014, IEEE
  Signal Processing Letters 21:1389). No maintained library in the lock implements it; `paired_bootstrap_auc`
  (resampling requests) is the reference it is tested against.
- regression: the per-request absolute error of the two models, a paired t-test (`scipy.stats.ttest_rel`,
  its interval from scipy too) with the Wilcoxon signed-rank test beside it (`scipy.stats.wilcoxon`), which
  does not lean on normal errors.

The effect is always challenger minus champion on the task's primary metric (ROC AUC: higher is better;
MAE: lower is better), and the verdict reads it in the right direction.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

import numpy as np
from scipy import stats

from steelthread_contracts.package import Task

Verdict = Literal["insufficient", "challenger_better", "champion_better", "no_difference"]
MIN_CLASS_ROWS: Final = 10
"""Fewest rows of each class (binary) before an AUC comparison means anything."""


@dataclass(frozen=True)
class AucComparison:
    champion: float
    challenger: float
    difference: float
    """challenger - champion."""
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float


def _structural(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs and DeLong's structural components (V10 over positives, V01 over negatives) of each score
    row (Sun and Xu's midrank form). `scores` is [k, n]."""
    positive = y == 1
    m, n = int(positive.sum()), int((~positive).sum())
    pos, neg = scores[:, positive], scores[:, ~positive]
    tx = stats.rankdata(pos, axis=1)
    ty = stats.rankdata(neg, axis=1)
    tz = stats.rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    aucs = (tz[:, :m].sum(axis=1) / m - (m + 1) / 2.0) / n
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    return aucs, v10, v01


def delong(y: np.ndarray, champion: np.ndarray, challenger: np.ndarray, alpha: float = 0.05) -> AucComparison:
    """DeLong's test of AUC(challenger) - AUC(champion) on the same rows: the difference, its standard
    error, the (1 - alpha) normal interval and the two-sided p-value."""
    y = np.asarray(y).astype(int)
    scores = np.vstack([np.asarray(champion, float), np.asarray(challenger, float)])
    m, n = int((y == 1).sum()), int((y == 0).sum())
    if m < 2 or n < 2:
        raise ValueError("DeLong's test needs at least two rows of each class")
    aucs, v10, v01 = _structural(y, scores)
    covariance = np.cov(v10) / m + np.cov(v01) / n
    contrast = np.array([-1.0, 1.0])
    variance = float(contrast @ covariance @ contrast)
    difference = float(aucs[1] - aucs[0])
    se = math.sqrt(max(variance, 0.0))
    z = stats.norm.ppf(1 - alpha / 2)
    p = float(2 * stats.norm.sf(abs(difference) / se)) if se > 0.0 else float(difference == 0.0)
    return AucComparison(
        float(aucs[0]), float(aucs[1]), difference, se, difference - z * se, difference + z * se, p
    )


def paired_bootstrap_auc(
    y: np.ndarray, champion: np.ndarray, challenger: np.ndarray, *, resamples: int = 2000, seed: int = 0
) -> np.ndarray:
    """AUC(challenger) - AUC(champion) on `resamples` bootstrap resamples of the rows (the same rows for
    both models: paired), vectorised through the Mann-Whitney form of the AUC."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y).astype(int)
    rows = rng.integers(0, len(y), size=(resamples, len(y)))
    labels = y[rows]
    m = labels.sum(axis=1)
    n = len(y) - m
    out = np.empty(resamples)
    for k, score in enumerate((champion, challenger)):
        ranks = stats.rankdata(np.asarray(score, float)[rows], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):  # a one-class resample: dropped below
            auc = ((ranks * labels).sum(axis=1) - m * (m + 1) / 2.0) / (m * n)
        out = auc if k == 0 else auc - out
    return np.asarray(out[(m > 0) & (n > 0)])


@dataclass(frozen=True)
class LossComparison:
    champion: float
    challenger: float
    difference: float
    """Mean per-row loss, challenger - champion (negative: the challenger errs less)."""
    ci_low: float
    ci_high: float
    p_value: float
    wilcoxon_p: float
    effect_size: float
    """Cohen's d_z: the mean difference over the differences' standard deviation."""


def paired_loss(
    champion_loss: np.ndarray, challenger_loss: np.ndarray, alpha: float = 0.05
) -> LossComparison:
    """Paired t-test (and Wilcoxon signed-rank) of per-row losses of two models on the same rows."""
    a, b = np.asarray(champion_loss, float), np.asarray(challenger_loss, float)
    diff = b - a
    if len(diff) < 3:
        raise ValueError("a paired test needs at least three rows")
    if not np.any(diff):
        return LossComparison(float(a.mean()), float(b.mean()), 0.0, 0.0, 0.0, 1.0, 1.0, 0.0)
    test = stats.ttest_rel(b, a)
    interval = test.confidence_interval(1 - alpha)
    wilcoxon = stats.wilcoxon(b, a, zero_method="zsplit")
    sd = float(diff.std(ddof=1))
    return LossComparison(
        float(a.mean()),
        float(b.mean()),
        float(diff.mean()),
        float(interval.low),
        float(interval.high),
        float(test.pvalue),
        float(wilcoxon.pvalue),
        float(diff.mean() / sd) if sd > 0 else 0.0,
    )


@dataclass(frozen=True)
class PairedVerdict:
    """The stored verdict (`evalstore.EvaluationStore.record_verdict`): what was compared, how, the effect
    (challenger - champion on `metric`), its interval and p-value, and the verdict."""

    champion: str
    challenger: str
    task: str
    metric: str
    method: str
    rows: int
    min_rows: int
    alpha: float
    champion_value: float
    challenger_value: float
    effect: float
    ci_low: float
    ci_high: float
    p_value: float
    verdict: Verdict
    higher_is_better: bool
    extra: dict[str, float]
    window: dict[str, str]

    def document(self) -> dict[str, Any]:
        return asdict(self)

    def metrics(self) -> dict[str, float]:
        return {
            "rows": float(self.rows),
            "champion_value": self.champion_value,
            "challenger_value": self.challenger_value,
            "effect": self.effect,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
            **self.extra,
        }

    def describe(self) -> str:
        if self.verdict == "insufficient":
            return (
                f"no verdict yet: {self.rows} paired labelled rows (at least {self.min_rows} needed"
                + (f" and {MIN_CLASS_ROWS} of each class" if self.task == Task.BINARY else "")
                + ")"
            )
        better = {
            "challenger_better": f"challenger v{self.challenger} is better",
            "champion_better": f"champion v{self.champion} is better",
            "no_difference": "no significant difference",
        }[self.verdict]
        return (
            f"{better}: {self.metric} champion {self.champion_value:.4g}, challenger "
            f"{self.challenger_value:.4g}, difference {self.effect:+.4g} "
            f"[{self.ci_low:+.4g}, {self.ci_high:+.4g}] ({(1 - self.alpha) * 100:g}% CI), "
            f"p = {self.p_value:.3g} ({self.method}, {self.rows} rows)"
        )


def _verdict(effect: float, p: float, alpha: float, higher_is_better: bool) -> Verdict:
    if not math.isfinite(p) or p >= alpha:
        return "no_difference"
    gained = effect > 0 if higher_is_better else effect < 0
    return "challenger_better" if gained else "champion_better"


def compare(
    task: Task | str,
    y: np.ndarray,
    champion: np.ndarray,
    challenger: np.ndarray,
    *,
    champion_version: str,
    challenger_version: str,
    min_rows: int = 200,
    alpha: float = 0.05,
    window: dict[str, str] | None = None,
) -> PairedVerdict:
    """The task's paired comparison of two models' scores on the same labelled rows."""
    task = Task(task)
    y = np.asarray(y, float)
    rows = len(y)
    common: dict[str, Any] = {
        "champion": champion_version,
        "challenger": challenger_version,
        "task": task.value,
        "rows": rows,
        "min_rows": min_rows,
        "alpha": alpha,
        "window": window or {},
    }
    if task is Task.BINARY:
        positives = int((y == 1).sum())
        enough = rows >= min_rows and min(positives, rows - positives) >= MIN_CLASS_ROWS
        base = {**common, "metric": "roc_auc", "method": "DeLong", "higher_is_better": True}
        if not enough:
            return PairedVerdict(**base, **_nothing(), verdict="insufficient", extra={"positives": positives})
        auc = delong(y, champion, challenger, alpha)
        return PairedVerdict(
            **base,
            champion_value=auc.champion,
            challenger_value=auc.challenger,
            effect=auc.difference,
            ci_low=auc.ci_low,
            ci_high=auc.ci_high,
            p_value=auc.p_value,
            verdict=_verdict(auc.difference, auc.p_value, alpha, True),
            extra={"std_error": auc.std_error, "positives": float(positives)},
        )
    if task is Task.REGRESSION:
        base = {**common, "metric": "mae", "method": "paired t-test on |error|", "higher_is_better": False}
        if rows < max(min_rows, 3):
            return PairedVerdict(**base, **_nothing(), verdict="insufficient", extra={})
        loss = paired_loss(np.abs(np.asarray(champion) - y), np.abs(np.asarray(challenger) - y), alpha)
        return PairedVerdict(
            **base,
            champion_value=loss.champion,
            challenger_value=loss.challenger,
            effect=loss.difference,
            ci_low=loss.ci_low,
            ci_high=loss.ci_high,
            p_value=loss.p_value,
            verdict=_verdict(loss.difference, loss.p_value, alpha, False),
            extra={"wilcoxon_p": loss.wilcoxon_p, "effect_size_dz": loss.effect_size},
        )
    raise ValueError(f"no paired comparison for a {task} model yet (binary and regression)")


def _nothing() -> dict[str, Any]:
    nan = math.nan
    return {
        "champion_value": nan,
        "challenger_value": nan,
        "effect": nan,
        "ci_low": nan,
        "ci_high": nan,
        "p_value": nan,
    }
