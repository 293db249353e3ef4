"""The paired champion/challenger comparison is the statistics it claims to be.

DeLong's test is implemented here (no maintained library in the lock has it), so it is checked against what
it estimates: the AUCs are scikit-learn's, and its standard error and interval agree with a paired bootstrap
of the same rows. The regression test is scipy's paired t-test on absolute errors. Verdicts read the effect
in the metric's direction and are withheld until enough rows are labelled.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from steelthread_training.paired import compare, delong, paired_bootstrap_auc, paired_loss


def _scores(n: int, seed: int, noise_b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A label and two correlated scores of it (both see the same signal; `noise_b` makes B worse)."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-1.5 * signal))).astype(int)
    shared = rng.normal(scale=0.6, size=n)
    a = signal + shared + rng.normal(scale=0.5, size=n)
    b = signal + shared + rng.normal(scale=noise_b, size=n)
    return y, a, b


def test_delong_aucs_are_scikit_learns_and_its_error_matches_a_paired_bootstrap() -> None:
    y, a, b = _scores(1_500, seed=4, noise_b=0.9)
    result = delong(y, a, b)
    assert result.champion == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert result.challenger == pytest.approx(roc_auc_score(y, b), abs=1e-12)
    boot = paired_bootstrap_auc(y, a, b, resamples=2_000, seed=1)
    print(f"DeLong se {result.std_error:.5f}, bootstrap sd {boot.std(ddof=1):.5f}")
    assert result.std_error == pytest.approx(boot.std(ddof=1), rel=0.12)
    low, high = np.quantile(boot, [0.025, 0.975])
    assert result.ci_low == pytest.approx(low, abs=0.25 * result.std_error)
    assert result.ci_high == pytest.approx(high, abs=0.25 * result.std_error)
    assert result.p_value < 0.05  # B's extra noise is a real loss of AUC at this size


def test_delong_with_ties_and_an_identical_model() -> None:
    y, a, _ = _scores(400, seed=2, noise_b=0.5)
    rounded = np.round(a, 1)  # many ties: midranks
    same = delong(y, rounded, rounded)
    assert (same.difference, same.std_error, same.p_value) == (0.0, 0.0, 1.0)
    tied = delong(y, rounded, a)
    assert tied.champion == pytest.approx(roc_auc_score(y, rounded), abs=1e-12)


def test_regression_uses_scipys_paired_t_test_on_absolute_errors() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(50, 10, 800)
    champion = y + rng.normal(scale=3.0, size=800)
    challenger = y + rng.normal(scale=2.5, size=800)
    loss = paired_loss(np.abs(champion - y), np.abs(challenger - y))
    expected = stats.ttest_rel(np.abs(challenger - y), np.abs(champion - y))
    assert loss.p_value == pytest.approx(expected.pvalue)
    assert loss.ci_low < loss.difference < loss.ci_high < 0  # the challenger errs less
    verdict = compare(
        "regression", y, champion, challenger, champion_version="1", challenger_version="2", min_rows=100
    )
    assert verdict.verdict == "challenger_better"
    assert verdict.metric == "mae"
    assert verdict.extra["wilcoxon_p"] < 0.05
    assert "challenger v2 is better" in verdict.describe()


def test_binary_verdicts_read_the_auc_difference_in_its_direction() -> None:
    y, a, b = _scores(2_000, seed=7, noise_b=1.2)
    worse = compare("binary", y, a, b, champion_version="1", challenger_version="2", min_rows=200)
    assert worse.verdict == "champion_better"
    assert worse.effect < 0
    better = compare("binary", y, b, a, champion_version="2", challenger_version="1", min_rows=200)
    assert better.verdict == "challenger_better"
    assert better.effect == pytest.approx(-worse.effect)
    equal = compare("binary", y, a, a + 1e-9, champion_version="1", challenger_version="2")
    assert equal.verdict == "no_difference"


def test_no_verdict_before_enough_labelled_rows() -> None:
    y, a, b = _scores(150, seed=3, noise_b=1.0)
    verdict = compare("binary", y, a, b, champion_version="1", challenger_version="2", min_rows=200)
    assert verdict.verdict == "insufficient"
    assert "150 paired labelled rows" in verdict.describe()
    assert np.isnan(verdict.p_value)
    rare = np.zeros(500, dtype=int)
    rare[:5] = 1  # enough rows, too few positives
    few = compare(
        "binary", rare, np.arange(500.0), np.arange(500.0), champion_version="1", challenger_version="2"
    )
    assert few.verdict == "insufficient"
