"""The decision policy: one rule, fail-closed when no model can answer."""

from __future__ import annotations

import math

import pytest

from steelthread_contracts import Decision
from steelthread_contracts.api import DecisionSource
from steelthread_contracts.decision import DEFAULT_POLICY, DecisionPolicy, Thresholds, decide, decided_by
from steelthread_contracts.package import PackageError, RunManifest


def test_the_first_cut_a_score_reaches_decides() -> None:
    t = Thresholds(review=0.3, decline=0.5)
    got = [decide(s, t) for s in (0.0, 0.29999, 0.3, 0.49, 0.5, 1.0)]
    assert got == [Decision.APPROVE] * 2 + [Decision.REVIEW] * 2 + [Decision.DECLINE] * 2


def test_equal_thresholds_mean_no_review_band() -> None:
    t = Thresholds(review=0.5, decline=0.5)
    assert [decide(s, t) for s in (0.49, 0.5)] == [Decision.APPROVE, Decision.DECLINE]


@pytest.mark.parametrize(
    ("score", "thresholds"), [(None, Thresholds(0.3, 0.5)), (0.01, None), (math.nan, Thresholds(0.3, 0.5))]
)
def test_no_score_or_no_thresholds_fails_closed(score, thresholds) -> None:
    assert decide(score, thresholds) is Decision.REVIEW is DEFAULT_POLICY.fallback
    assert decide(score, thresholds, DecisionPolicy(fallback=Decision.DECLINE)) is Decision.DECLINE


def test_thresholds_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match="above decline"):
        Thresholds(review=0.6, decline=0.5)


def test_only_a_binary_package_has_thresholds() -> None:
    fields = {"format_version": 1, "name": "m", "feature_names": ["a"]}
    binary = RunManifest.model_validate(fields | {"threshold": 0.4, "review_threshold": 0.1})
    assert Thresholds.of(binary) == Thresholds(review=0.1, decline=0.4)
    with pytest.raises(PackageError, match="regression package has no decision thresholds"):
        Thresholds.of(RunManifest.model_validate(fields | {"task": "regression"}))


def test_a_policy_decides_for_packages_without_thresholds() -> None:
    fields = {"format_version": 1, "name": "m", "feature_names": ["a"]}
    regression = RunManifest.model_validate(fields | {"task": "regression"})
    cuts = Thresholds(review=45.0, decline=60.0)
    policy = DecisionPolicy(cuts=cuts)
    assert policy.thresholds_for(regression) == cuts
    assert decide(50.0, policy.thresholds_for(regression), policy) is Decision.REVIEW
    assert DEFAULT_POLICY.thresholds_for(regression) is None
    binary = RunManifest.model_validate(fields | {"threshold": 0.4, "review_threshold": 0.1})
    assert policy.thresholds_for(binary) == Thresholds(review=0.1, decline=0.4)


def test_the_answer_can_name_the_rule_that_decided() -> None:
    package = Thresholds(review=0.3, decline=0.6)
    cuts = Thresholds(review=30.0, decline=60.0)
    policy = DecisionPolicy(name="promise", cuts=cuts)
    assert decided_by(0.5, package, policy) is DecisionSource.PACKAGE
    assert decided_by(45.0, cuts, policy) is DecisionSource.USE_CASE
    # the same cuts given by a package are still the package's: identity, not equality, tells them apart
    assert decided_by(45.0, Thresholds(review=30.0, decline=60.0), policy) is DecisionSource.PACKAGE
    for score, thresholds in ((None, package), (float("nan"), package), (0.5, None)):
        assert decided_by(score, thresholds, policy) is DecisionSource.FALLBACK
        assert decide(score, thresholds, policy) is policy.fallback
