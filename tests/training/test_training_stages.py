"""Unit tests of each stage of the binary path on tiny random frames (no Feast, no MLflow).

The frames carry their own binary `FrameSpec` (features, slices, protected attribute) and smoke cases, so
these run whatever use case is active, like test_training_tasks.py does for regression and multiclass. The
tests of the active use case's own configuration, smoke cases and derived slices are marked as such below;
the credit example's values are checked in usecases/credit/tests.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from steelthread_contracts.package import Task
from steelthread_contracts.usecase import SmokeCase, active, load_hook
from steelthread_training.candidate import NO_CHAMPION, fit_candidate
from steelthread_training.config import (
    BaselineConfig,
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
from steelthread_training.dataset import TABLES, add_derived_slices, fingerprint, label_events
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
from steelthread_training.frame import LABEL, MODEL_FEATURES, REQUEST_ID, SPEC, FrameSpec
from steelthread_training.gate import ChampionComparison, read_verdict, run_gate
from steelthread_training.models import matrix, train_baseline, train_lightgbm, tree_hash
from steelthread_training.smoke import CASES, SmokeSet, out_of_bounds, smoke_document, smoke_frame
from steelthread_training.split import time_split
from steelthread_training.validation import raise_if_invalid, validate_frame

USE_CASE = active()
CONFIG = load_config()
"""The active use case's training.yaml (only the tests of the packaged configuration read it)."""
FEATURES = ("strong", "medium", "weak", "noise_1", "noise_2", "noise_3", "noise_4", "noise_5")
"""The label depends on the first three (conftest.random_frame); noise_1 has missing values."""
BINARY = FrameSpec(
    task=Task.BINARY, features=FEATURES, slices=("segment", "band", "region", "group"), protected="group"
)
SMOKE = SmokeSet.direct(
    (
        SmokeCase("low", "no signal at all", {"strong": 0.0, "medium": 0.0, "weak": 1.0}, (0.0, 0.3)),
        SmokeCase("typical", "middling signals", {"strong": 0.5, "medium": 0.5, "weak": 0.5}, (0.05, 0.8)),
        SmokeCase("high", "every signal at its top", {"strong": 1.0, "medium": 1.0, "weak": 0.0}, (0.4, 1.0)),
        SmokeCase("unknown", "nothing known: missing values must still give a probability", {}, (0.0, 1.0)),
    ),
    FEATURES,
    ordering=("low", "typical", "high"),
)  # fmt: skip
VALIDATION = ValidationConfig(
    min_rows=100, min_positives=10, ranges={"strong": (0.0, 1.0), "medium": (0.0, 1.0)}
)
SMALL = TrainingConfig(
    validation=VALIDATION,
    slices=SliceConfig(columns=("segment", "band", "region"), min_rows=50),
    lightgbm=LightGBMConfig(n_estimators=60, num_threads=1, early_stopping_rounds=10),
    baseline=BaselineConfig(),
)


@pytest.fixture(scope="module")
def frame(make_frame) -> pd.DataFrame:
    return make_frame(2_000, seed=1, spec=BINARY)


@pytest.fixture(scope="module")
def candidate(frame: pd.DataFrame):
    return fit_candidate(frame, SMALL, seed=7, spec=BINARY, smoke=SMOKE)


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
    """The active use case's events and labels tables, by their declared column names."""
    t = pd.Timestamp("2026-01-01", tz="UTC")
    events = pd.DataFrame({REQUEST_ID: ["a", "b", "c"], TABLES.event_time: [t, t + pd.Timedelta(days=1), t]})
    labels = pd.DataFrame(
        {
            REQUEST_ID: ["a", "b", "c"],
            TABLES.label: [1, 0, 0],
            TABLES.label_time: [t + pd.Timedelta(days=d) for d in (10, 20, 400)],
        }
    )
    out = label_events(events, labels, datetime(2026, 1, 25, tzinfo=UTC))
    assert list(out[REQUEST_ID]) == ["a", "b"]
    assert list(out[LABEL]) == [1, 0]
    assert len(label_events(events, labels)) == 3
    with pytest.raises(TrainingError, match="timezone"):
        label_events(events, labels, datetime(2026, 1, 25))


def test_derived_slices_come_from_the_use_case_hook_with_the_config_options(make_frame) -> None:
    """The active use case's `derived_slices` hook gets the training.yaml's `slices.options`, and adds only
    slice columns, one value per row; a use case without a hook takes no options. (The credit example's
    bands: usecases/credit/tests/test_credit_training.py.)"""
    frame = make_frame(50, seed=2).drop(columns=list(SPEC.slices))  # as the point-in-time join gives it
    before = frame.copy()
    if USE_CASE.derived_slices is None:
        assert add_derived_slices(frame, {}) is frame
        with pytest.raises(TrainingError, match="declares no derived_slices hook"):
            add_derived_slices(frame, {"bands": [1]})
        return
    out = add_derived_slices(frame, CONFIG.slices.options)
    pd.testing.assert_frame_equal(out, load_hook(USE_CASE.derived_slices)(before, CONFIG.slices.options))
    added = [c for c in out.columns if c not in frame.columns]
    assert added
    assert set(added) <= set(USE_CASE.slices)
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is left alone
    with pytest.raises(TrainingError, match="derived slices"):
        add_derived_slices(frame[[REQUEST_ID]], CONFIG.slices.options)


def test_fingerprint_changes_with_one_value(frame: pd.DataFrame) -> None:
    changed = frame.copy()
    changed.loc[5, "strong"] += 0.5
    assert fingerprint(frame) == fingerprint(frame.copy())
    assert fingerprint(frame) != fingerprint(changed)


def test_a_sane_frame_passes_validation(frame: pd.DataFrame) -> None:
    report = validate_frame(frame, VALIDATION, FEATURES, task=Task.BINARY)
    assert report.passed, report.failed
    raise_if_invalid(report)


@pytest.mark.parametrize(
    ("mutate", "failed_check"),
    [
        (lambda f: f.drop(columns=["noise_2"]), "schema.columns"),
        (lambda f: f.assign(strong=(f["strong"] * 10).astype("int64")), "schema.strong"),
        (lambda f: f.assign(strong=-5.0), "range.strong"),
        (lambda f: f.assign(weak=np.inf), "range.weak"),
        (lambda f: f.assign(noise_3=np.nan), "missing.noise_3"),
        (lambda f: f.assign(label=0), "label.rate"),
        (lambda f: f.assign(label=2), "schema.label"),
        (lambda f: f.head(50), "rows"),
        (lambda f: pd.concat([f, f.head(3)]), "duplicates.request_id"),
    ],
)
def test_an_insane_frame_stops_the_run_naming_the_check(
    frame: pd.DataFrame, mutate, failed_check: str
) -> None:
    report = validate_frame(mutate(frame.copy()), VALIDATION, FEATURES, task=Task.BINARY)
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
    binary = {"features": FEATURES, "task": Task.BINARY}
    first = train_lightgbm(split.train, split.validation, SMALL.lightgbm, seed=1, **binary)
    again = train_lightgbm(split.train, split.validation, SMALL.lightgbm, seed=1, **binary)
    two_threads = train_lightgbm(
        split.train, split.validation, replace_threads(SMALL.lightgbm, 2), seed=1, **binary
    )
    assert tree_hash(first) == tree_hash(again) == tree_hash(two_threads)
    np.testing.assert_array_equal(first.score(split.test), again.score(split.test))
    baseline = train_baseline(split.train, SMALL.baseline, seed=1, **binary)
    for model in (first, baseline):
        scores = model.score(split.test)
        assert scores.shape == (len(split.test),)
        assert np.all((scores >= 0) & (scores <= 1))


def replace_threads(config: LightGBMConfig, threads: int) -> LightGBMConfig:
    return config.model_copy(update={"num_threads": threads})


def test_baseline_uses_only_its_declared_features(frame: pd.DataFrame) -> None:
    split = time_split(frame, SMALL.split)
    declared = ("medium", "weak", "noise_1")
    model = train_baseline(split.train, SMALL.baseline, seed=0, features=declared, task=Task.BINARY)
    assert model.feature_names == declared
    assert "strong" not in model.feature_names
    assert model.model.n_features_in_ == len(declared)
    np.testing.assert_array_equal(model.score(split.test), model.score(split.test.drop(columns=["strong"])))


def test_the_packaged_baseline_names_only_model_features() -> None:
    """The active use case's baseline block (null: every feature) names only its model's features."""
    assert set(CONFIG.baseline.features or MODEL_FEATURES) <= set(MODEL_FEATURES)
    with pytest.raises(ValueError, match="not_a_feature"):
        BaselineConfig(features=(MODEL_FEATURES[0], "not_a_feature"))


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
    fair = fairness(frame, p, 0.5, "protected_group")
    assert fair is not None
    assert fair.approval_rates == {"a": 0.75, "b": 0.25}
    assert fair.ratio == pytest.approx(1 / 3)
    assert fairness(frame.drop(columns=["protected_group"]), p, 0.5, "protected_group") is None
    assert fairness(frame, p, 0.5, None) is None


# --- stage 5: gate ----------------------------------------------------------------------------------
def test_candidate_gate_records_every_check(candidate) -> None:
    names = [c.name for c in candidate.verdict.checks]
    for expected in (
        "roc_auc",
        "pr_auc",
        "brier",
        "gain_over_baseline.roc_auc",
        "fairness.group.approval_ratio",
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
    worse = fit_candidate(frame, stump, seed=7, champion=lambda test, y: champion, spec=BINARY, smoke=SMOKE)
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
    verdict = run_gate(broken, candidate.baseline_eval, NO_CHAMPION, SMALL.gate)
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
    assert dims[1].dim_value == len(FEATURES)
    assert [o.name for o in model.graph.output] == [OUTPUT_NAME]
    session = onnx_session(candidate.onnx_bytes)
    out = session.run(None, {INPUT_NAME: matrix(candidate.split.test, FEATURES).astype(np.float32)})
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
    x = matrix(candidate.split.test[:50], FEATURES).copy()
    x[:, :5] = np.nan
    native = candidate.lightgbm.score_matrix(x)
    exported = onnx_scores(onnx_session(candidate.onnx_bytes), x)
    np.testing.assert_allclose(exported, native, atol=1e-5)


def test_to_onnx_of_a_fresh_model_round_trips(frame: pd.DataFrame) -> None:
    split = time_split(frame, SMALL.split)
    model = train_lightgbm(
        split.train, split.validation, SMALL.lightgbm, seed=2, features=FEATURES, task=Task.BINARY
    )
    session = onnx_session(to_onnx(model).SerializeToString())
    np.testing.assert_allclose(
        onnx_scores(session, matrix(split.test, FEATURES)), model.score(split.test), atol=1e-5
    )


# --- smoke cases -----------------------------------------------------------------------------------
def test_smoke_vectors_follow_the_feature_service_order() -> None:
    """The active use case's smoke cases become feature vectors in the service's order: a stored input
    by its name, the request-time features by the use case's transform (its row form, serving's path)."""
    frame = smoke_frame()
    assert list(frame.columns) == list(MODEL_FEATURES)
    assert len(frame) == len(CASES) == len(USE_CASE.smoke_cases)
    row_form = load_hook(USE_CASE.on_demand.row)
    request_names = set(USE_CASE.request_names) | set(USE_CASE.on_demand.stored_inputs)
    for i, case in enumerate(CASES):
        vector = frame.iloc[i]
        stored = [name for name in MODEL_FEATURES if name in case.inputs]
        assert stored, case.name
        for name in stored:
            value = case.inputs[name]
            assert vector[name] == value or (math.isnan(vector[name]) and (value is None or value != value))
        derived = row_form(**{k: v for k, v in case.inputs.items() if k in request_names})
        for name, value in zip(USE_CASE.on_demand.features, derived, strict=True):
            assert vector[name] == value or (math.isnan(vector[name]) and math.isnan(value)), (
                case.name,
                name,
            )
    unknown = [i for i, case in enumerate(CASES) if any(v is None or v != v for v in case.inputs.values())]
    assert unknown, "a smoke case with missing values"
    doc = smoke_document(np.full(len(CASES), 0.5))
    first_missing = int(np.flatnonzero(frame.iloc[unknown[0]].isna().to_numpy())[0])
    assert doc["cases"][unknown[0]]["features"][first_missing] is None
    assert doc["feature_names"] == list(MODEL_FEATURES)
    inside = np.array([(case.bounds[0] + case.bounds[1]) / 2 for case in CASES])
    assert out_of_bounds(inside) == []
    outside = inside.copy()
    outside[0] = CASES[0].bounds[1] + 1.0
    outside[-1] = np.nan
    low, high = CASES[0].bounds
    last = CASES[-1]
    assert out_of_bounds(outside) == [
        f"{CASES[0].name}={outside[0]:.4f} not in [{low}, {high}]",
        f"{last.name}=nan not in [{last.bounds[0]}, {last.bounds[1]}]",
    ]


def test_evaluate_bundles_metrics_slices_and_fairness(candidate) -> None:
    y = candidate.split.test["label"].to_numpy()
    ev = evaluate("x", candidate.split.test, y, candidate.test_scores, 0.5, SMALL.slices, BINARY.protected)
    assert ev.metrics.rows == len(y)
    assert ev.fairness is not None
    assert ev.fairness.column == "group"
    assert {s.column for s in ev.slices} == {"segment", "band", "region"}
