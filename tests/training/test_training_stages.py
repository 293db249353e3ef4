"""Unit tests of each stage on tiny random frames (no Feast, no MLflow)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from steelthread_training.candidate import NO_CHAMPION, fit_candidate
from steelthread_training.config import (
    GateConfig,
    LightGBMConfig,
    ParityConfig,
    SliceConfig,
    SplitConfig,
    ThresholdConfig,
    TrainingConfig,
    ValidationConfig,
    load_config,
)
from steelthread_training.dataset import add_derived_slices, fingerprint, label_events
from steelthread_training.errors import CorruptArtifactError, DataValidationError, TrainingError
from steelthread_training.evaluation import (
    calibration_table,
    choose_threshold,
    evaluate,
    fairness,
    metrics,
    slice_metrics,
)
from steelthread_training.export import INPUT_NAME, OUTPUT_NAME, onnx_scores, onnx_session, parity, to_onnx
from steelthread_training.frame import MODEL_FEATURES
from steelthread_training.gate import ChampionComparison, read_verdict, run_gate
from steelthread_training.models import matrix, train_baseline, train_lightgbm, tree_hash
from steelthread_training.smoke import CASES, out_of_bounds, smoke_document, smoke_frame
from steelthread_training.split import time_split
from steelthread_training.validation import raise_if_invalid, validate_frame
from steelthread_usecase_credit.slices import income_band

CONFIG = load_config()
SMALL = TrainingConfig(
    validation=ValidationConfig(min_rows=100, min_positives=10),
    slices=SliceConfig(min_rows=50),
    lightgbm=LightGBMConfig(n_estimators=60, num_threads=1, early_stopping_rounds=10),
    baseline=CONFIG.baseline.model_copy(update={"features": None}),
)


@pytest.fixture(scope="module")
def frame(make_frame) -> pd.DataFrame:
    return make_frame(2_000, seed=1)


@pytest.fixture(scope="module")
def candidate(frame: pd.DataFrame):
    return fit_candidate(frame, SMALL, seed=7)


# --- config ------------------------------------------------------------------------------------
def test_packaged_config_loads_with_the_documented_floors() -> None:
    assert CONFIG.gate.min_fairness_ratio == pytest.approx(0.8)
    assert CONFIG.parity.quantile == pytest.approx(0.9999)
    assert CONFIG.split.train + CONFIG.split.validation < 1


def test_bad_config_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("gate:\n  min_roc_auc: 2.5\n")
    with pytest.raises(TrainingError, match=r"gate\.min_roc_auc"):
        load_config(bad)
    bad.write_text("baseline:\n  features: [not_a_feature]\n")
    with pytest.raises(TrainingError, match="not_a_feature"):
        load_config(bad)
    with pytest.raises(TrainingError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


# --- stage 1: labels and validation --------------------------------------------------------------
def test_labels_as_of_keeps_only_labels_known_by_then() -> None:
    t = pd.Timestamp("2026-01-01", tz="UTC")
    applications = pd.DataFrame(
        {"request_id": ["a", "b", "c"], "application_timestamp": [t, t + pd.Timedelta(days=1), t]}
    )
    labels = pd.DataFrame(
        {
            "request_id": ["a", "b", "c"],
            "defaulted": [1, 0, 0],
            "label_timestamp": [t + pd.Timedelta(days=d) for d in (10, 20, 400)],
        }
    )
    out = label_events(applications, labels, datetime(2026, 1, 25, tzinfo=UTC))
    assert list(out["request_id"]) == ["a", "b"]
    assert list(out["label"]) == [1, 0]
    assert len(label_events(applications, labels)) == 3
    with pytest.raises(TrainingError, match="timezone"):
        label_events(applications, labels, datetime(2026, 1, 25))


def test_income_band_names_zero_income_apart() -> None:
    bands = income_band(
        pd.Series([0.0, np.nan, 10_000.0, 30_000.0, 60_000.0, 250_000.0]), (25e3, 50e3, 100e3)
    )
    assert list(bands) == ["none", "none", "<25000", "25000-50000", "50000-100000", ">=100000"]


def test_derived_slices_come_from_the_use_case_hook_with_the_config_options() -> None:
    """The credit declaration names its hook (`derived_slices`); training passes `slices.options`."""
    frame = pd.DataFrame({"income": [0.0, 30_000.0, 250_000.0], "x": [1.0, 2.0, 3.0]})
    out = add_derived_slices(frame, CONFIG.slices.options)
    assert list(out.columns) == ["income", "x", "income_band"]
    assert list(out["income_band"]) == ["none", "25000-50000", ">=100000"]
    assert "income_band" not in frame.columns  # the caller's frame is left alone
    coarse = add_derived_slices(frame, {"income_bands": [100_000]})
    assert list(coarse["income_band"]) == ["none", "<100000", ">=100000"]
    with pytest.raises(TrainingError, match="unknown slice option"):
        add_derived_slices(frame, {"income_band": [1]})


def test_fingerprint_changes_with_one_value(frame: pd.DataFrame) -> None:
    changed = frame.copy()
    changed.loc[5, "age"] += 1
    assert fingerprint(frame) == fingerprint(frame.copy())
    assert fingerprint(frame) != fingerprint(changed)


def test_a_sane_frame_passes_validation(frame: pd.DataFrame) -> None:
    report = validate_frame(frame, CONFIG.validation)
    assert report.passed, report.failed
    raise_if_invalid(report)


@pytest.mark.parametrize(
    ("mutate", "failed_check"),
    [
        (lambda f: f.drop(columns=["income"]), "schema.columns"),
        (lambda f: f.assign(age=f["age"].astype("int64")), "schema.age"),
        (lambda f: f.assign(age=-5.0), "range.age"),
        (lambda f: f.assign(credit_utilisation=np.inf), "range.credit_utilisation"),
        (lambda f: f.assign(total_balance=np.nan), "missing.total_balance"),
        (lambda f: f.assign(label=0), "label.rate"),
        (lambda f: f.assign(label=2), "schema.label"),
        (lambda f: f.head(50), "rows"),
        (lambda f: pd.concat([f, f.head(3)]), "duplicates.request_id"),
    ],
)
def test_an_insane_frame_stops_the_run_naming_the_check(
    frame: pd.DataFrame, mutate, failed_check: str
) -> None:
    report = validate_frame(mutate(frame.copy()), CONFIG.validation)
    assert failed_check in {c.name for c in report.failed}
    with pytest.raises(DataValidationError, match=failed_check.replace(".", r"\.")) as info:
        raise_if_invalid(report)
    assert info.value.report is report


# --- stage 2: split --------------------------------------------------------------------------------
def test_split_is_by_time_without_overlap(frame: pd.DataFrame) -> None:
    shuffled = frame.sample(frac=1.0, random_state=0)
    split = time_split(shuffled, SplitConfig(train=0.6, validation=0.2))
    assert len(split.train) + len(split.validation) + len(split.test) == len(frame)
    assert split.train["event_timestamp"].max() < split.validation["event_timestamp"].min()
    assert split.validation["event_timestamp"].max() < split.test["event_timestamp"].min()
    assert len(split.test) == pytest.approx(0.2 * len(frame), abs=2)


def test_rows_sharing_a_timestamp_stay_on_one_side(frame: pd.DataFrame) -> None:
    tied = frame.copy()
    tied["event_timestamp"] = tied["event_timestamp"].dt.floor("7D")
    split = time_split(tied, SplitConfig(train=0.6, validation=0.2))
    assert not set(split.train["event_timestamp"]) & set(split.validation["event_timestamp"])
    assert not set(split.validation["event_timestamp"]) & set(split.test["event_timestamp"])


def test_split_refuses_to_leave_a_part_empty(frame: pd.DataFrame) -> None:
    same = frame.assign(event_timestamp=frame["event_timestamp"].iloc[0])
    with pytest.raises(TrainingError, match="empty"):
        time_split(same, SplitConfig())


# --- stage 3: models --------------------------------------------------------------------------------
def test_models_score_probabilities_and_lightgbm_is_deterministic(frame: pd.DataFrame) -> None:
    split = time_split(frame, SMALL.split)
    first = train_lightgbm(split.train, split.validation, SMALL.lightgbm, seed=1)
    again = train_lightgbm(split.train, split.validation, SMALL.lightgbm, seed=1)
    two_threads = train_lightgbm(split.train, split.validation, replace_threads(SMALL.lightgbm, 2), seed=1)
    assert tree_hash(first) == tree_hash(again) == tree_hash(two_threads)
    np.testing.assert_array_equal(first.score(split.test), again.score(split.test))
    baseline = train_baseline(split.train, SMALL.baseline, seed=1)
    for model in (first, baseline):
        scores = model.score(split.test)
        assert scores.shape == (len(split.test),)
        assert np.all((scores >= 0) & (scores <= 1))


def replace_threads(config: LightGBMConfig, threads: int) -> LightGBMConfig:
    return config.model_copy(update={"num_threads": threads})


def test_baseline_uses_only_its_declared_features(frame: pd.DataFrame) -> None:
    split = time_split(frame, SMALL.split)
    model = train_baseline(split.train, CONFIG.baseline, seed=0, features=CONFIG.baseline.features or ())
    assert model.feature_names == CONFIG.baseline.features
    assert "credit_utilisation" not in model.feature_names


# --- stage 4: evaluation ----------------------------------------------------------------------------
def test_metrics_on_a_hand_made_example() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    m = metrics(y, p, threshold=0.5)
    assert m.roc_auc == pytest.approx(0.75)
    assert m.brier == pytest.approx(np.mean((p - y) ** 2))
    assert m.approval_rate == pytest.approx(0.75)
    assert m.default_rate_approved == pytest.approx(1 / 3)
    table = calibration_table(y, p, bins=2)
    assert list(table["rows"]) == [2, 2]
    assert table["observed_rate"].tolist() == [0.5, 0.5]  # sorted scores 0.1, 0.35 | 0.4, 0.8
    assert table["mean_score"].tolist() == pytest.approx([0.225, 0.6])


def test_threshold_minimises_expected_cost() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(size=5_000)
    y = (rng.uniform(size=5_000) < p).astype(np.int64)
    cheap_errors = choose_threshold(y, p, ThresholdConfig(cost_false_approve=1.0, cost_false_decline=1.0))
    costly_defaults = choose_threshold(y, p, ThresholdConfig(cost_false_approve=5.0, cost_false_decline=1.0))
    # Calibrated scores: the optimal cut is cost_decline / (cost_decline + cost_approve).
    assert cheap_errors == pytest.approx(0.5, abs=0.05)
    assert costly_defaults == pytest.approx(1 / 6, abs=0.05)


def test_slices_and_fairness() -> None:
    frame = pd.DataFrame({"region": ["n"] * 4 + ["s"] * 4, "protected_group": ["a", "b"] * 4})
    y = np.array([0, 1, 0, 1, 0, 1, 1, 0])
    p = np.array([0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.6, 0.4])
    slices = slice_metrics(frame, y, p, 0.5, SliceConfig(columns=("region", "absent"), min_rows=4))
    assert [(s.value, s.rows, s.gated) for s in slices] == [("n", 4, True), ("s", 4, True)]
    assert slices[0].roc_auc == pytest.approx(1.0)
    fair = fairness(frame, p, 0.5)
    assert fair is not None
    assert fair.approval_rates == {"a": 0.75, "b": 0.25}
    assert fair.ratio == pytest.approx(1 / 3)
    assert fairness(frame.drop(columns=["protected_group"]), p, 0.5) is None


# --- stage 5: gate ----------------------------------------------------------------------------------
def test_candidate_gate_records_every_check(candidate) -> None:
    names = [c.name for c in candidate.verdict.checks]
    for expected in (
        "roc_auc",
        "pr_auc",
        "brier",
        "gain_over_baseline.roc_auc",
        "fairness.protected_group.approval_ratio",
        "champion.roc_auc_delta",
        "parity.quantile_abs_diff",
        "parity.rows_over_tolerance",
        "smoke.ordering",
    ):
        assert expected in names
    assert any(n.startswith("slice.region=") for n in names)
    champion = next(c for c in candidate.verdict.checks if c.name == "champion.roc_auc_delta")
    assert champion.passed
    assert "first model" in champion.note
    data = json.loads(candidate.verdict.to_json())
    assert data["passed"] == candidate.verdict.passed
    assert {"name", "value", "op", "threshold", "passed"} <= set(data["checks"][0])


def test_gate_refuses_a_deliberately_worse_model(frame: pd.DataFrame, candidate) -> None:
    """A one-tree stump is beaten by the baseline and by the champion: two named refusals."""
    stump = TrainingConfig(
        **{
            **SMALL.model_dump(),
            "lightgbm": LightGBMConfig(n_estimators=1, num_leaves=2, early_stopping_rounds=0),
        }
    )
    champion = ChampionComparison("1", candidate.evaluation.metrics.roc_auc, "champion v1")
    worse = fit_candidate(frame, stump, seed=7, champion=lambda test, y: champion)
    assert not worse.verdict.passed
    failed = {c.name for c in worse.verdict.failed}
    assert {"gain_over_baseline.roc_auc", "champion.roc_auc_delta"} <= failed


def test_gate_floors_come_from_config(candidate) -> None:
    strict = GateConfig(min_roc_auc=0.999, min_fairness_ratio=1.0)
    verdict = run_gate(candidate.evaluation, candidate.baseline_eval, NO_CHAMPION, strict, candidate.parity)
    failed = {c.name for c in verdict.failed}
    assert "roc_auc" in failed
    check = next(c for c in verdict.checks if c.name == "roc_auc")
    assert check.threshold == 0.999
    assert check.value == candidate.evaluation.metrics.roc_auc


def test_a_metric_that_cannot_be_computed_never_passes(candidate) -> None:
    broken = replace(candidate.evaluation, metrics=replace(candidate.evaluation.metrics, roc_auc=math.nan))
    verdict = run_gate(broken, candidate.baseline_eval, NO_CHAMPION, CONFIG.gate)
    assert "roc_auc" in {c.name for c in verdict.failed}
    assert json.loads(verdict.to_json())["checks"][0]["value"] is None


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", '{"passed": "yes", "checks": []}', '{"passed": true, "checks": [{"passed": false}]}'],
)
def test_a_corrupt_verdict_is_never_a_pass(text: str) -> None:
    with pytest.raises(CorruptArtifactError):
        read_verdict(text, "test")


# --- stage 6: export and parity ---------------------------------------------------------------------
def test_onnx_has_one_float32_input_and_a_probabilities_output(candidate) -> None:
    import onnx

    model = onnx.load_from_string(candidate.onnx_bytes)
    assert [i.name for i in model.graph.input] == [INPUT_NAME]
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[1].dim_value == len(MODEL_FEATURES)
    assert [o.name for o in model.graph.output] == [OUTPUT_NAME]
    session = onnx_session(candidate.onnx_bytes)
    out = session.run(None, {INPUT_NAME: matrix(candidate.split.test).astype(np.float32)})
    assert len(out) == 1
    assert out[0].shape == (len(candidate.split.test), 2)
    assert out[0].dtype == np.float32
    np.testing.assert_allclose(out[0].sum(axis=1), 1.0, atol=1e-6)


def test_parity_over_the_whole_test_set(candidate) -> None:
    report = candidate.parity
    assert report.rows == len(candidate.split.test)
    assert report.passed
    assert report.max_abs_diff < 1e-5
    np.testing.assert_allclose(candidate.test_scores, candidate.native_test_scores, atol=1e-5)


def test_parity_reports_and_refuses_a_broken_export() -> None:
    native = np.linspace(0, 1, 100_000)
    few = native.copy()
    few[:2] += 0.02  # float32 threshold flips: allowed when rare
    assert parity(native, few, ParityConfig()).passed
    many = native.copy()
    many[:50] += 0.02
    report = parity(native, many, ParityConfig())
    assert not report.passed
    assert report.rows_over_tolerance == 50
    assert report.max_abs_diff == pytest.approx(0.02)
    shifted = native + 1e-3
    assert not parity(native, shifted, ParityConfig()).passed
    assert not parity(native, np.full_like(native, np.nan), ParityConfig()).passed


def test_onnx_handles_missing_values_like_lightgbm(candidate) -> None:
    x = matrix(candidate.split.test[:50]).copy()
    x[:, :5] = np.nan
    native = candidate.lightgbm.score_matrix(x)
    exported = onnx_scores(onnx_session(candidate.onnx_bytes), x)
    np.testing.assert_allclose(exported, native, atol=1e-5)


def test_to_onnx_of_a_fresh_model_round_trips(frame: pd.DataFrame) -> None:
    split = time_split(frame, SMALL.split)
    model = train_lightgbm(split.train, split.validation, SMALL.lightgbm, seed=2)
    session = onnx_session(to_onnx(model).SerializeToString())
    np.testing.assert_allclose(onnx_scores(session, matrix(split.test)), model.score(split.test), atol=1e-5)


# --- smoke cases -----------------------------------------------------------------------------------
def test_smoke_vectors_follow_the_feature_service_order() -> None:
    frame = smoke_frame()
    assert list(frame.columns) == list(MODEL_FEATURES)
    assert len(frame) == len(CASES) == 5
    zero = frame.iloc[[c.name for c in CASES].index("zero_income")]
    assert zero["income_missing"] == 1.0
    unknown = frame.iloc[[c.name for c in CASES].index("unknown_customer")]
    assert math.isnan(unknown["credit_utilisation"])
    doc = smoke_document(np.full(5, 0.5))
    assert doc["cases"][4]["features"][MODEL_FEATURES.index("credit_utilisation")] is None
    assert out_of_bounds(np.array([0.01, 0.1, 0.9, 0.9, 0.5])) == []
    assert out_of_bounds(np.array([0.9, 0.1, 0.9, 0.9, np.nan])) == [
        "low_risk=0.9000 not in [0.0, 0.15]",
        "unknown_customer=nan not in [0.0, 1.0]",
    ]


def test_evaluate_bundles_metrics_slices_and_fairness(candidate) -> None:
    y = candidate.split.test["label"].to_numpy()
    ev = evaluate("x", candidate.split.test, y, candidate.test_scores, 0.5, SliceConfig())
    assert ev.metrics.rows == len(y)
    assert ev.fairness is not None
    assert {s.column for s in ev.slices} == {"purpose", "income_band", "region"}
