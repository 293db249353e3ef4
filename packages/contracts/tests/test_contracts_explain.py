"""Reasons for each decision: contributions are LightGBM's own TreeSHAP and sum to the raw margin; reason
codes name only factors that pushed towards an adverse decision, at most four, largest first; every
shipped use case gives every model feature exactly one reason."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from steelthread_contracts import package as contract
from steelthread_contracts import usecase
from steelthread_contracts.api import Decision, DecisionSource, Explanation
from steelthread_contracts.explain import (
    MAX_REASONS,
    BoosterExplainer,
    explanation,
    is_adverse,
    objective_of,
    reason_codes,
)
from steelthread_contracts.usecase import ReasonText, UseCaseError

NAMES = ["a", "b", "c", "d", "e"]


def _booster(objective: str, seed: int = 0) -> tuple[lgb.Booster, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(600, len(NAMES)))
    x[rng.random(x.shape) < 0.05] = np.nan  # missing values take the trees' default branch
    signal = x[:, 0] - 0.7 * np.nan_to_num(x[:, 1]) + 0.5 * np.nan_to_num(x[:, 2] * x[:, 3])
    y = (signal > 0).astype(float) if objective == "binary" else 30 + 5 * signal
    params = {"objective": objective, "num_leaves": 7, "verbose": -1, "seed": seed, "deterministic": True}
    booster = lgb.train(params, lgb.Dataset(x, y, feature_name=NAMES), num_boost_round=30)
    return booster, x


def _package(folder: Path, booster: lgb.Booster, task: str) -> contract.RunManifest:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / contract.BOOSTER_FILE).write_text(booster.model_to_string())
    binary = task == "binary"
    return contract.write_run_manifest(
        folder,
        {
            "task": task,
            "name": "explained",
            "feature_names": NAMES,
            "threshold": 0.5 if binary else None,
            "review_threshold": 0.3 if binary else None,
        },
    )


@pytest.mark.parametrize(
    ("objective", "task", "scale"), [("binary", "binary", "log_odds"), ("regression", "regression", "score")]
)
def test_contributions_are_lightgbms_and_sum_to_the_raw_margin(
    tmp_path: Path, objective: str, task: str, scale: str
) -> None:
    booster, x = _booster(objective)
    manifest = _package(tmp_path, booster, task)
    explainer = BoosterExplainer.load(tmp_path, manifest)
    assert explainer is not None
    assert explainer.scale == scale
    x32 = x.astype(np.float32)  # what the ONNX graph sees
    ours = explainer.contributions(x32)
    theirs = booster.predict(x32.astype(np.float64), pred_contrib=True)
    assert np.array_equal(ours, theirs)
    margin = booster.predict(x32.astype(np.float64), raw_score=True)
    assert np.abs(ours.sum(axis=1) - margin).max() <= 1e-6
    # the answer's shape: the same numbers by feature name, the margin their sum, valid against the contract
    answer = explainer.explain(x32[0].tolist(), Decision.DECLINE, DecisionSource.PACKAGE, ())
    Explanation.model_validate(answer)
    assert [answer["contributions"][n] for n in NAMES] == ours[0, :-1].tolist()
    assert answer["base_value"] == ours[0, -1]
    assert abs(answer["margin"] - margin[0]) <= 1e-6


def test_a_package_without_a_booster_has_no_explainer_and_a_damaged_one_is_refused(tmp_path: Path) -> None:
    booster, _ = _booster("binary")
    manifest = _package(tmp_path / "with", booster, "binary")
    assert contract.ships(manifest, contract.BOOSTER_FILE)
    assert contract.BOOSTER_FILE in contract.files_of(manifest)
    (tmp_path / "without").mkdir()
    bare = contract.write_run_manifest(
        tmp_path / "without",
        {"name": "bare", "feature_names": NAMES, "threshold": 0.5, "review_threshold": 0.3},
    )
    assert BoosterExplainer.load(tmp_path / "without", bare) is None
    assert contract.files_of(bare) == contract.PACKAGE_FILES

    with (tmp_path / "with" / contract.BOOSTER_FILE).open("a") as handle:
        handle.write("\n")
    with pytest.raises(contract.PackageError, match="does not match its recorded sha256"):
        BoosterExplainer.load(tmp_path / "with", manifest)

    renamed = contract.write_run_manifest(
        tmp_path / "with",
        {"name": "x", "feature_names": list(reversed(NAMES)), "threshold": 0.5, "review_threshold": 0.3},
    )
    with pytest.raises(contract.PackageError, match=r"other features than package\.json"):
        BoosterExplainer.load(tmp_path / "with", renamed)


def test_a_multiclass_booster_is_not_explained(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, len(NAMES)))
    params = {"objective": "multiclass", "num_class": 3, "verbose": -1, "num_leaves": 4}
    booster = lgb.train(params, lgb.Dataset(x, rng.integers(0, 3, 300), feature_name=NAMES), 3)
    assert objective_of(booster.model_to_string()) == "multiclass"
    (tmp_path / contract.BOOSTER_FILE).write_text(booster.model_to_string())
    manifest = contract.write_run_manifest(
        tmp_path, {"task": "multiclass", "name": "m", "feature_names": NAMES}
    )
    with pytest.raises(contract.PackageError, match="objective 'multiclass' is not explained"):
        BoosterExplainer.load(tmp_path, manifest)


REASONS = (
    ReasonText("r_a", "factor a", ("a",)),
    ReasonText("r_bc", "factor b and c", ("b", "c")),
    ReasonText("r_d", "factor d", ("d",)),
    ReasonText("r_e", "factor e", ("e",)),
    ReasonText("r_f", "factor f", ("f",)),
    ReasonText("r_g", "factor g", ("g",)),
)


def test_reasons_are_the_factors_that_pushed_up_largest_first_at_most_four() -> None:
    contributions = {"a": 0.2, "b": 0.5, "c": -0.1, "d": -0.3, "e": 0.05, "f": 0.9, "g": 0.01}
    ranked = reason_codes(contributions, REASONS)
    assert [r.code for r in ranked] == ["r_f", "r_bc", "r_a", "r_e"]
    assert len(ranked) == MAX_REASONS
    assert math.isclose(ranked[1].contribution, 0.4)  # a reason's features are one factor
    assert all(r.contribution > 0 for r in ranked)
    # a factor that pulled towards approval is never a reason, even when few pushed up
    assert [r.code for r in reason_codes({"a": -1.0, "d": 0.3, "b": 0.2, "c": -0.5}, REASONS)] == ["r_d"]
    assert reason_codes({"a": -1.0, "d": 0.0}, REASONS) == []


def test_only_an_adverse_decision_by_the_model_gets_reasons() -> None:
    assert is_adverse(Decision.DECLINE, DecisionSource.PACKAGE)
    assert is_adverse(Decision.REVIEW, DecisionSource.USE_CASE)
    assert not is_adverse(Decision.APPROVE, DecisionSource.PACKAGE)
    assert not is_adverse(Decision.REVIEW, DecisionSource.FALLBACK)  # the fallback decided nothing
    values = [0.2, 0.5, -0.1, -0.3, 0.05, -1.0]
    approved = explanation(values, NAMES, "log_odds", Decision.APPROVE, DecisionSource.PACKAGE, REASONS)
    declined = explanation(values, NAMES, "log_odds", Decision.DECLINE, DecisionSource.PACKAGE, REASONS)
    assert approved["reasons"] == []
    assert [r["code"] for r in declined["reasons"]] == ["r_bc", "r_a", "r_e"]
    assert approved["contributions"] == declined["contributions"]
    with pytest.raises(ValueError, match="contributions for 5 features"):
        explanation(values[:-1], NAMES, "log_odds", Decision.APPROVE, DecisionSource.PACKAGE, REASONS)


@pytest.mark.parametrize("name", sorted(usecase.registered()))
def test_every_shipped_use_case_gives_every_feature_one_reason(name: str) -> None:
    declared = usecase.load(name)
    covered = [f for r in declared.reasons for f in r.features]
    assert sorted(covered) == sorted(declared.feature_names)
    assert all(r.text and r.code for r in declared.reasons)


def test_a_declaration_with_a_feature_without_a_reason_is_refused() -> None:
    declared = usecase.load(usecase.DEFAULT_USECASE)
    first, *rest = declared.reasons
    with pytest.raises(UseCaseError, match="without a reason"):
        replace(declared, reasons=tuple(rest))
    with pytest.raises(UseCaseError, match="reason features twice"):
        replace(declared, reasons=(first, *rest, replace(first, code="again")))
    with pytest.raises(UseCaseError, match="duplicate reason codes"):
        replace(declared, reasons=(first, first, *rest))
    with pytest.raises(UseCaseError, match="unknown"):
        replace(declared, reasons=(*declared.reasons, ReasonText("x", "x", ("shoe_size",))))
    # without a declaration each feature is its own reason, named after it
    bare = replace(declared, reasons=())
    assert [r.features for r in bare.reason_texts] == [(f,) for f in declared.feature_names]
