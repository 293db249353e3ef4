"""A/B plans and canary steps decide by the statistics they name.

The plan's sample size is statsmodels' power calculation (checked against statsmodels and against the
textbook normal approximation); a sample-ratio mismatch halts; the always-valid test keeps its false-alarm
rate under alpha however often it is looked at, and finds a challenger made worse by a known amount. The
replays are simulated traffic with labels, vectorised so 200 of them take well under a second.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

from steelthread_training.experiment import (
    ExperimentError,
    Guardrail,
    Outcome,
    append_decision,
    assign,
    check,
    make_plan,
    msprt_p_values,
    read_decisions,
    read_plan,
    sample_ratio,
    write_plan,
)
from steelthread_training.rollout import primary_metric, row_loss, step

ALPHA = 0.05
REPLAYS = 200
LOOKS = 20
PER_LOOK = 100
"""Requests per arm between two looks."""


def _plan(**overrides: object):
    values: dict[str, object] = {
        "name": "canary-v2",
        "control": "1",
        "treatment": "2",
        "primary_metric": "absolute_error",
        "metric_kind": "mean",
        "baseline": 1.0,
        "mde": 0.2,
        "alpha": ALPHA,
        "power": 0.8,
        "treatment_share": 0.5,
        "daily_units": 10_000,
        "max_days": 14,
    }
    values.update(overrides)
    return make_plan(**values)  # type: ignore[arg-type]


def test_sample_size_is_statsmodels_power_calculation() -> None:
    plan = _plan(treatment_share=0.2)
    expected = TTestIndPower().solve_power(effect_size=0.2, alpha=ALPHA, power=0.8, ratio=0.25)
    assert plan.control_units == math.ceil(expected)
    assert plan.treatment_units == math.ceil(math.ceil(expected) * 0.25)
    # and it is the textbook number: n1 = (1 + 1/r) (z_a/2 + z_b)^2 / d^2, within the t-test's few units
    z = stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(0.8)
    assert plan.control_units == pytest.approx((1 + 1 / 0.25) * z**2 / 0.2**2, abs=5)
    rate = _plan(metric_kind="proportion", baseline=0.10, mde=0.02, primary_metric="approval")
    h = abs(proportion_effectsize(0.12, 0.10))
    assert rate.control_units == math.ceil(
        NormalIndPower().solve_power(effect_size=h, alpha=ALPHA, power=0.8)
    )
    assert rate.days == math.ceil(rate.total_units / 10_000)


def test_a_plan_the_traffic_cannot_reach_in_time_is_refused() -> None:
    with pytest.raises(ExperimentError, match="more than the 3 allowed"):
        _plan(mde=0.01, daily_units=1_000, max_days=3)


def test_plans_are_written_once_and_decisions_appended(tmp_path: Path) -> None:
    plan = _plan()
    path = write_plan(tmp_path, plan)
    assert read_plan(tmp_path, "canary-v2") == plan
    with pytest.raises(ExperimentError, match="plans are not edited"):
        write_plan(tmp_path, plan)
    assert path.parent.name == "experiments"
    append_decision(tmp_path, {"experiment": "canary-v2", "action": "advance"})
    append_decision(tmp_path, {"experiment": "other", "action": "abort"})
    assert [d["action"] for d in read_decisions(tmp_path, "canary-v2")] == ["advance"]


def test_assignment_is_sticky_per_entity_and_follows_the_share() -> None:
    keys = np.arange(20_000)
    first = assign(keys, "salt", 0.1)
    assert np.array_equal(first, assign(keys, "salt", 0.1))
    assert first.mean() == pytest.approx(0.1, abs=0.01)
    assert not np.array_equal(first, assign(keys, "other-salt", 0.1))


def test_sample_ratio_mismatch_is_chi_squared_and_halts_below_0_001() -> None:
    fine = sample_ratio(9_030, 970, 0.1)
    assert fine.p_value == pytest.approx(stats.chisquare([9_030, 970], [9_000, 1_000]).pvalue)
    assert not fine.mismatch
    assert sample_ratio(8_800, 1_200, 0.1).mismatch


def _replays(rng: np.random.Generator, shift: float) -> np.ndarray:
    """Always-valid p-values [REPLAYS, LOOKS] of replays whose treatment loss is higher by `shift`."""
    control = rng.normal(1.0, 1.0, size=(REPLAYS, LOOKS * PER_LOOK))
    treatment = rng.normal(1.0 + shift, 1.0, size=(REPLAYS, LOOKS * PER_LOOK))
    n = np.arange(1, LOOKS + 1) * PER_LOOK
    cc, ct = np.cumsum(control, axis=1)[:, n - 1], np.cumsum(treatment, axis=1)[:, n - 1]
    c2, t2 = np.cumsum(control**2, axis=1)[:, n - 1], np.cumsum(treatment**2, axis=1)[:, n - 1]
    mean_c, mean_t = cc / n, ct / n
    var_c, var_t = (c2 - n * mean_c**2) / (n - 1), (t2 - n * mean_t**2) / (n - 1)
    return msprt_p_values(mean_t - mean_c, var_t / n + var_c / n, tau2=0.2**2)


def test_an_equal_challenger_raises_a_false_alarm_in_at_most_5_percent_of_200_replays() -> None:
    p = _replays(np.random.default_rng(20), shift=0.0)
    alarms = float((p[:, -1] < ALPHA).mean())  # the running minimum: an alarm at any of the 20 looks
    print(
        f"false alarm rate over {REPLAYS} seeded replays of an equal challenger, {LOOKS} looks: {alarms:.3f}"
    )
    assert alarms <= 0.05


def test_a_challenger_worse_by_a_known_amount_is_detected() -> None:
    p = _replays(np.random.default_rng(21), shift=0.2)
    detected = float((p[:, -1] < ALPHA).mean())
    print(f"replays in which a challenger worse by 0.2 sd was detected: {detected:.3f}")
    assert detected >= 0.9


def _traffic(
    rng: np.random.Generator, *, shift: float, treatment_share: float, rows: int = 6_000
) -> pd.DataFrame:
    """Simulated canary traffic with labels (regression): stable answers as `1`, the canary as `2`."""
    entity = rng.integers(0, 10**9, size=rows)
    arm = np.where(rng.random(rows) < treatment_share, "2", "1")
    label = rng.normal(50.0, 10.0, size=rows)
    error = np.abs(rng.normal(0.0, 1.0, size=rows)) + np.where(arm == "2", shift, 0.0)
    sign = np.where(rng.random(rows) < 0.5, -1.0, 1.0)
    return pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(rows)],
            "entity_key": entity,
            "arm": arm,
            "score": label + sign * error,
            "label": label,
            "degraded": False,
            "logged_at": pd.date_range("2026-12-01", periods=rows, freq="s", tz="UTC"),
        }
    )


def test_a_canary_worse_by_a_known_amount_is_aborted() -> None:
    plan = _plan(treatment_share=0.3, mde=0.1, baseline=0.6, guardrails=(Guardrail("degraded_share", 0.01),))
    result = step(plan, "regression", _traffic(np.random.default_rng(5), shift=0.3, treatment_share=0.3))
    assert result.action == "abort", result.reason
    assert result.exit_code == 1
    assert "mSPRT" in result.reason


def test_an_equal_canary_advances_at_the_end_and_holds_before() -> None:
    plan = _plan(treatment_share=0.3, mde=0.02, baseline=0.6)  # a horizon the traffic has not reached
    traffic = _traffic(np.random.default_rng(6), shift=0.0, treatment_share=0.3)
    held = step(plan, "regression", traffic)
    assert held.action == "hold", held.reason
    assert held.exit_code == 4
    assert step(plan, "regression", traffic, final=True).action == "advance"


def test_a_deliberate_sample_ratio_mismatch_halts_the_canary() -> None:
    plan = _plan(treatment_share=0.1, mde=0.1, baseline=0.6)
    skewed = _traffic(np.random.default_rng(7), shift=0.0, treatment_share=0.2)  # twice the planned share
    result = step(plan, "regression", skewed)
    assert result.action == "halt"
    assert result.exit_code == 3
    assert "sample-ratio mismatch" in result.reason


def test_a_breached_guardrail_aborts_even_without_labels() -> None:
    plan = _plan(treatment_share=0.3, guardrails=(Guardrail("degraded_share", 0.01),))
    traffic = _traffic(np.random.default_rng(8), shift=0.0, treatment_share=0.3)
    traffic["label"] = np.nan
    traffic.loc[traffic["arm"] == "2", "degraded"] = (
        np.random.default_rng(9).random((traffic["arm"] == "2").sum()) < 0.1
    )
    result = step(plan, "regression", traffic)
    assert result.action == "abort"
    assert "guardrail breached: degraded_share" in result.reason


def test_check_stops_early_only_on_the_always_valid_p_value() -> None:
    plan = _plan()
    rng = np.random.default_rng(3)
    same = check(
        plan,
        Outcome(rng.normal(1, 1, 300)),
        Outcome(rng.normal(1, 1, 300)),
        control_units=300,
        treatment_units=300,
    )
    assert same.action == "continue"
    assert not same.horizon_reached


def test_a_rollouts_metric_is_the_one_its_per_request_loss_is_a_term_of() -> None:
    """Binary: squared errors average to the Brier score; regression: absolute errors to the mean absolute
    error; a task without a per-request loss has no rollout metric either (not a metric nothing computes)."""
    score, label = np.array([0.9, 0.2, 0.6]), np.array([1.0, 0.0, 0.0])
    assert primary_metric("binary") == "brier"
    assert row_loss("binary", score, label).mean() == pytest.approx(np.mean((score - label) ** 2))
    assert primary_metric("regression") == "absolute_error"
    assert row_loss("regression", score, label).mean() == pytest.approx(np.mean(np.abs(score - label)))
    for ask in (primary_metric, lambda task: row_loss(task, score, label)):
        with pytest.raises(ValueError, match="no per-request loss for a multiclass model"):
            ask("multiclass")
