"""Regression and multiclass through the same stages as binary (fit_candidate: split, train, evaluate,
export, gate; then the model package), on small synthetic frames that need no use case.

The frames carry their own `FrameSpec` (task, features, slices, protected attribute) and smoke cases whose
inputs are the model's features; the active use case (credit, binary) is not involved, so these run
whatever use case is installed. The binary path's own tests are the other files of this folder.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from steelthread_contracts import package as contract
from steelthread_contracts.explain import BoosterExplainer
from steelthread_contracts.package import Task
from steelthread_contracts.usecase import SmokeCase
from steelthread_training.candidate import NO_CHAMPION, fit_candidate
from steelthread_training.config import (
    GateConfig,
    LightGBMConfig,
    ParityConfig,
    RegressionGateConfig,
    SliceConfig,
    TrainingConfig,
    ValidationConfig,
)
from steelthread_training.errors import TrainingError
from steelthread_training.export import (
    INPUT_NAME,
    OUTPUT_NAME,
    REGRESSION_OUTPUT,
    onnx_outputs,
    onnx_session,
    parity,
)
from steelthread_training.frame import LABEL, SCORE, FrameSpec
from steelthread_training.gate import NOT_APPLICABLE, ChampionComparison, run_gate
from steelthread_training.model_card import model_card
from steelthread_training.models import lightgbm_params, matrix
from steelthread_training.package import (
    publish_version,
    verify_package,
    verify_run_package,
    write_run_package,
)
from steelthread_training.run_log import manifest_fields, onnx_signature
from steelthread_training.smoke import SmokeSet, smoke_document
from steelthread_training.tasks import task_kind
from steelthread_training.validation import validate_frame

FEATURES = ("distance_km", "items", "hour", "load")
REG_SPEC = FrameSpec(task=Task.REGRESSION, features=FEATURES, slices=("zone", "group"), protected="group")
REG_SMOKE = SmokeSet.direct(
    (
        SmokeCase("short", "a short trip, few items, quiet hour", {"distance_km": 1.0, "items": 1.0, "hour": 10.0}, (5.0, 35.0)),
        SmokeCase("long", "a long trip, many items, rush hour", {"distance_km": 25.0, "items": 10.0, "hour": 18.0, "load": 0.9}, (40.0, 400.0)),
    ),
    FEATURES,
    ordering=("short", "long"),
)  # fmt: skip


def delivery_frame(n: int = 3_000, seed: int = 0) -> pd.DataFrame:
    """Minutes to deliver: a count-like label with a log-linear mean, a rush-hour step and an interaction."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "distance_km": rng.gamma(2.0, 3.0, n),
            "items": rng.integers(1, 12, n).astype(float),
            "hour": rng.integers(0, 24, n).astype(float),
            "load": rng.uniform(0, 1, n),
        }
    )
    frame.loc[rng.random(n) < 0.05, "load"] = np.nan
    rush = frame["hour"].between(17, 19).astype(float)
    load = frame["load"].fillna(0.5)
    log_mu = 2.4 + 0.07 * frame["distance_km"] + 0.03 * frame["items"] + 0.35 * rush + 0.5 * load * rush
    frame[LABEL] = rng.poisson(np.exp(log_mu)).astype(float)
    frame["event_timestamp"] = pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC").astype(
        "datetime64[us, UTC]"
    )
    frame["request_id"] = [f"d{i:06d}" for i in range(n)]
    frame["zone"] = rng.choice(["centre", "suburb", "rural"], n)
    frame["group"] = rng.choice(["g1", "g2"], n)
    return frame


def regression_config(objective: str | None = "poisson", **gate: object) -> TrainingConfig:
    return TrainingConfig(
        validation=ValidationConfig(min_rows=100),
        lightgbm=LightGBMConfig(
            objective=objective, n_estimators=200, num_threads=1, early_stopping_rounds=20
        ),
        slices=SliceConfig(columns=("zone",), min_rows=50),
        gate=GateConfig(regression=RegressionGateConfig(**gate)),  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def reg_frame() -> pd.DataFrame:
    return delivery_frame()


@pytest.fixture(scope="module")
def regression(reg_frame: pd.DataFrame):
    return fit_candidate(reg_frame, regression_config(), seed=3, spec=REG_SPEC, smoke=REG_SMOKE)


# --- regression: models, metrics, gate ------------------------------------------------------------------
def test_objective_comes_from_the_config_and_must_fit_the_task() -> None:
    base = LightGBMConfig()
    assert lightgbm_params(base, 0)["objective"] == "binary"
    assert lightgbm_params(base, 0, Task.REGRESSION)["objective"] == "regression"
    assert lightgbm_params(LightGBMConfig(objective="poisson"), 0, Task.REGRESSION)["objective"] == "poisson"
    tweedie = lightgbm_params(LightGBMConfig(objective="tweedie"), 0, Task.REGRESSION)
    assert (tweedie["objective"], tweedie["tweedie_variance_power"]) == ("tweedie", 1.5)
    multi = lightgbm_params(base, 0, Task.MULTICLASS, classes=4)
    assert (multi["objective"], multi["num_class"]) == ("multiclass", 4)
    with pytest.raises(TrainingError, match="is for regression"):
        lightgbm_params(LightGBMConfig(objective="poisson"), 0, Task.BINARY)
    assert "tweedie_variance_power" not in lightgbm_params(base, 0)  # binary params exactly as before


def test_a_regression_candidate_is_measured_by_mae_and_has_no_threshold(regression) -> None:
    m = regression.evaluation.metrics.as_dict()
    assert set(m) >= {"mae", "rmse", "r2", "poisson_deviance", "rows"}
    assert math.isfinite(m["poisson_deviance"])  # poisson objective: the deviance is reported
    assert m["mae"] < regression.baseline_eval.metrics.as_dict()["mae"]  # LightGBM beats Ridge
    assert m["r2"] > 0.5
    assert regression.evaluation.threshold is None
    assert regression.review_threshold is None
    assert regression.baseline.params == {"alpha": 1.0}
    assert regression.task is Task.REGRESSION
    assert regression.score_column is None
    assert {s.column for s in regression.evaluation.slices} == {"zone"}
    assert all(hasattr(s, "mae_ratio") for s in regression.evaluation.slices)


def test_the_regression_gate_checks_mae_slices_fairness_champion_parity_and_smoke(regression) -> None:
    verdict = regression.verdict
    assert verdict.passed, verdict.failed
    names = [c.name for c in verdict.checks]
    for expected in (
        "r2",
        "gain_over_baseline.mae",
        "fairness.group.error_ratio",
        "champion.mae_relative_gain",
        "parity.quantile_abs_diff",
        "smoke.short",
        "smoke.long",
        "smoke.ordering",
    ):
        assert expected in names
    assert any(n.startswith("slice.zone=") and n.endswith(".mae_ratio") for n in names)
    assert not [n for n in names if "roc_auc" in n or "approval" in n]
    fairness = next(c for c in verdict.checks if c.name == "fairness.group.error_ratio")
    assert fairness.op == "<="
    assert fairness.threshold == 1.25
    assert 1.0 <= fairness.value <= 1.25


def test_regression_champion_comparison_is_relative_and_lower_mae_is_better(regression) -> None:
    mae = regression.evaluation.metrics.as_dict()["mae"]
    config = GateConfig()
    kind = task_kind(Task.REGRESSION)
    better = ChampionComparison("1", mae * 1.10, "champion v1", "mae")  # champion 10% worse: a gain
    worse = ChampionComparison("1", mae * 0.90, "champion v1", "mae")  # champion 10% better: refused
    within = ChampionComparison("1", mae * 0.995, "champion v1", "mae")  # 0.5% better: inside 1%
    gain = kind.champion_check(regression.evaluation, better, config)
    assert gain.passed
    assert gain.value == pytest.approx(0.1 / 1.1)
    assert not kind.champion_check(regression.evaluation, worse, config).passed
    assert kind.champion_check(regression.evaluation, within, config).passed
    auc = ChampionComparison("1", 0.8, "champion v1", "roc_auc")  # another task's metric never passes
    assert not kind.champion_check(regression.evaluation, auc, config).passed


def test_a_worse_regressor_is_refused_by_the_baseline_and_the_champion(reg_frame, regression) -> None:
    stump = regression_config().model_copy(
        update={
            "lightgbm": LightGBMConfig(
                objective="poisson", n_estimators=1, num_leaves=2, early_stopping_rounds=0
            )
        }
    )
    champion = ChampionComparison("1", regression.evaluation.metrics.as_dict()["mae"], "champion v1", "mae")
    worse = fit_candidate(
        reg_frame, stump, seed=3, spec=REG_SPEC, smoke=REG_SMOKE, champion=lambda t, y: champion
    )
    failed = {c.name for c in worse.verdict.failed}
    assert {"gain_over_baseline.mae", "champion.mae_relative_gain"} <= failed


def test_regression_floors_come_from_the_config(regression) -> None:
    strict = GateConfig(
        regression=RegressionGateConfig(max_mae=0.5, min_r2=0.99, max_error_ratio=1.0, max_slice_mae=0.5)
    )
    verdict = run_gate(
        regression.evaluation, regression.baseline_eval, NO_CHAMPION, strict, regression.parity
    )
    failed = {c.name for c in verdict.failed}
    assert {"mae", "r2", "fairness.group.error_ratio", "slice.zone=rural.mae"} <= failed
    no_floors = GateConfig(regression=RegressionGateConfig(min_r2=None, max_slice_mae_ratio=None))
    names = {
        c.name
        for c in run_gate(regression.evaluation, regression.baseline_eval, NO_CHAMPION, no_floors).checks
    }
    assert "r2" not in names
    assert not [n for n in names if n.startswith("slice.")]


def test_no_protected_attribute_means_no_fairness_check(reg_frame) -> None:
    spec = FrameSpec(task=Task.REGRESSION, features=FEATURES, slices=("zone",))
    candidate = fit_candidate(reg_frame, regression_config(), seed=3, spec=spec, smoke=REG_SMOKE)
    assert candidate.evaluation.fairness is None
    assert not [c for c in candidate.verdict.checks if c.name.startswith("fairness")]
    assert NOT_APPLICABLE in candidate.verdict.notes
    assert "group" not in candidate.reference().columns


@pytest.mark.parametrize("objective", ["regression", "tweedie"])
def test_every_regression_objective_trains_exports_and_passes_parity(reg_frame, objective: str) -> None:
    config = regression_config(objective)
    candidate = fit_candidate(reg_frame, config, seed=3, spec=REG_SPEC, smoke=REG_SMOKE)
    assert candidate.lightgbm.params["objective"] == objective
    assert candidate.parity.passed, candidate.parity.reasons
    deviance = candidate.evaluation.metrics.as_dict()["poisson_deviance"]
    assert math.isfinite(deviance) == (objective == "tweedie")


# --- regression: export and parity ------------------------------------------------------------------
def test_the_regressor_exports_one_variable_output_n_by_1(regression) -> None:
    import onnx

    model = onnx.load_from_string(regression.onnx_bytes)
    assert [i.name for i in model.graph.input] == [INPUT_NAME]
    assert [o.name for o in model.graph.output] == [REGRESSION_OUTPUT]
    assert "predicted label" in model.doc_string
    out = onnx_outputs(
        onnx_session(regression.onnx_bytes), matrix(regression.split.test, FEATURES), REGRESSION_OUTPUT
    )
    assert out.shape == (len(regression.split.test), 1)
    np.testing.assert_allclose(out[:, 0], regression.test_scores)


def test_regression_parity_is_relative(regression) -> None:
    report = regression.parity
    assert report.scale == "relative"
    assert report.passed
    assert report.max_abs_diff < 1e-4  # relative
    absolute = np.abs(regression.test_scores - regression.native_test_scores).max()
    relative = (
        np.abs(regression.test_scores - regression.native_test_scores) / np.abs(regression.native_test_scores)
    ).max()
    assert relative <= report.max_abs_diff * (1 + 1e-9)
    assert absolute > relative  # counts in the tens: the float32 difference in minutes is larger


def test_relative_parity_accepts_float32_noise_on_large_values_and_refuses_a_real_error() -> None:
    native = np.linspace(100.0, 800.0, 10_000)
    noisy = native * (1 + 5e-6 * np.sin(np.arange(10_000)))  # ~1e-3 absolute at several hundred
    config = ParityConfig()
    assert not parity(native, noisy, config, "absolute").passed
    relative = parity(native, noisy, config, "relative")
    assert relative.passed, relative.reasons
    assert relative.quantile_tolerance == 1e-4  # the relative default (the YAML did not set one)
    assert parity(native, noisy, ParityConfig(quantile_tolerance=1e-6), "relative").quantile_tolerance == 1e-6
    shifted = native * 1.001
    assert not parity(native, shifted, config, "relative").passed


# --- regression: the package -------------------------------------------------------------------------------
@pytest.fixture
def regression_package(regression, tmp_path: Path) -> Path:
    return write_run_package(
        tmp_path / "run" / "package",
        onnx_bytes=regression.onnx_bytes,
        reference=regression.reference(),
        smoke=smoke_document(regression.smoke_scores, regression.smoke),
        manifest=manifest_fields(regression, name="delivery-lgbm", run_id="r1", seed=3, tags={}),
        onnx=onnx_signature(regression),
    )


def test_the_regression_package_states_its_task_output_and_no_threshold(
    regression_package: Path, tmp_path: Path
) -> None:
    manifest = verify_run_package(regression_package)
    assert manifest.task is Task.REGRESSION
    assert (manifest.threshold, manifest.review_threshold) == (None, None)
    assert manifest.onnx.output == REGRESSION_OUTPUT
    assert manifest.onnx.positive_class_index is None
    assert manifest.feature_names == list(FEATURES)
    assert set(manifest.metrics) >= {"mae", "rmse", "r2", "poisson_deviance", "baseline_mae", "test_rows"}
    assert "predicted label" in json.loads((regression_package / "manifest.json").read_text())["score"]
    folder = publish_version(regression_package, tmp_path / "models", "1")
    published = verify_package(folder)  # re-scores the smoke cases from `variable`
    assert published.task is Task.REGRESSION
    reference = pd.read_parquet(folder / contract.REFERENCE_FILE)
    assert list(reference.columns) == [*FEATURES, SCORE, LABEL, "zone", "group"]
    assert pd.api.types.is_float_dtype(reference[LABEL])


def test_regression_smoke_bounds_are_in_score_units(regression, regression_package: Path) -> None:
    smoke = json.loads((regression_package / "smoke.json").read_text())
    assert [c["bounds"] for c in smoke["cases"]] == [[5.0, 35.0], [40.0, 400.0]]
    assert smoke["tolerance"] >= 1e-5  # scaled with the scores (minutes), capped by the contract
    assert smoke["tolerance"] <= contract.MAX_SMOKE_TOLERANCE
    short, long = regression.smoke_scores
    assert 5.0 <= short < long <= 400.0


def test_the_regression_model_card_speaks_mae(regression) -> None:
    card = model_card(
        name="delivery-lgbm",
        feature_service="delivery_v1",
        feature_names=list(FEATURES),
        candidate=regression.evaluation,
        baseline=regression.baseline_eval,
        verdict=regression.verdict,
        split=regression.split.describe(),
        tags={},
        review_threshold=None,
        score=regression.score_description,
    )
    assert "| mae |" in card
    assert "baseline (Ridge regression)" in card
    assert "no decision threshold" in card
    assert "MAE by `group`" in card
    assert "ROC AUC" not in card


def test_regression_labels_are_validated_for_the_task(reg_frame: pd.DataFrame) -> None:
    config = ValidationConfig(min_rows=100, label_range=(0.0, 1_000.0))
    ok = validate_frame(reg_frame, config, FEATURES, task=Task.REGRESSION, objective="poisson")
    assert ok.passed, ok.failed
    assert "label.rate" not in {c.name for c in ok.checks}  # a binary check
    negative = reg_frame.assign(label=reg_frame[LABEL] - 1_000)
    failed = {
        c.name
        for c in validate_frame(negative, config, FEATURES, task=Task.REGRESSION, objective="poisson").failed
    }
    assert {"label.range", "label.non_negative"} <= failed
    missing = reg_frame.assign(label=np.nan)
    assert "schema.label" in {
        c.name for c in validate_frame(missing, config, FEATURES, task=Task.REGRESSION).failed
    }
    constant = reg_frame.assign(label=7.0)
    assert "label.spread" in {
        c.name for c in validate_frame(constant, config, FEATURES, task=Task.REGRESSION).failed
    }


# --- multiclass ----------------------------------------------------------------------------------------------
MC_FEATURES = ("a", "b", "c")
MC_SPEC = FrameSpec(task=Task.MULTICLASS, features=MC_FEATURES, slices=("zone",), protected="group")
MC_SMOKE = SmokeSet.direct(
    (
        SmokeCase("calm", "no signal for class 2", {"a": -1.0, "b": -1.0, "c": 0.0}, (0.0, 0.3)),
        SmokeCase("alarm", "both signals of class 2", {"a": 1.0, "b": 1.0, "c": 0.0}, (0.5, 1.0)),
    ),
    MC_FEATURES,
    ordering=("calm", "alarm"),
)


def severity_frame(n: int = 3_000, seed: int = 0) -> pd.DataFrame:
    """Three classes a linear model cannot separate: class 2 needs a AND b, class 1 a large |c|."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({k: rng.normal(size=n) for k in MC_FEATURES})
    label = np.where((frame["a"] > 0) & (frame["b"] > 0), 2, np.where(frame["c"].abs() > 1.0, 1, 0))
    noise = rng.random(n) < 0.1
    label[noise] = rng.integers(0, 3, int(noise.sum()))
    frame[LABEL] = label.astype(np.int64)
    frame["event_timestamp"] = pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC").astype(
        "datetime64[us, UTC]"
    )
    frame["request_id"] = [f"s{i:06d}" for i in range(n)]
    frame["zone"] = rng.choice(["x", "y"], n)
    frame["group"] = rng.choice(["g1", "g2"], n)
    return frame


@pytest.fixture(scope="module")
def multiclass():
    config = TrainingConfig(
        validation=ValidationConfig(min_rows=100),
        lightgbm=LightGBMConfig(n_estimators=150, num_threads=1, early_stopping_rounds=20),
        slices=SliceConfig(columns=("zone",), min_rows=50),
    )
    return fit_candidate(severity_frame(), config, seed=3, spec=MC_SPEC, smoke=MC_SMOKE)


def test_a_multiclass_candidate_is_measured_by_macro_f1(multiclass) -> None:
    m = multiclass.evaluation.metrics.as_dict()
    assert set(m) >= {"macro_f1", "accuracy", "log_loss", "classes"}
    assert m["classes"] == 3
    assert m["macro_f1"] > multiclass.baseline_eval.metrics.as_dict()["macro_f1"]
    assert multiclass.evaluation.threshold is None
    assert multiclass.classes == 3
    assert multiclass.score_column == 2  # the last class by default
    assert multiclass.test_predictions.shape == (len(multiclass.split.test), 3)
    np.testing.assert_allclose(multiclass.test_scores, multiclass.test_predictions[:, 2])
    assert multiclass.verdict.passed, multiclass.verdict.failed
    names = {c.name for c in multiclass.verdict.checks}
    assert {
        "macro_f1",
        "gain_over_baseline.macro_f1",
        "fairness.group.macro_f1_ratio",
        "champion.macro_f1_delta",
    } <= names
    assert multiclass.parity.scale == "absolute"
    assert multiclass.parity.passed


def test_the_multiclass_package_documents_its_score(multiclass, tmp_path: Path) -> None:
    import onnx

    model = onnx.load_from_string(multiclass.onnx_bytes)
    assert [o.name for o in model.graph.output] == [OUTPUT_NAME]
    folder = write_run_package(
        tmp_path / "package",
        onnx_bytes=multiclass.onnx_bytes,
        reference=multiclass.reference(),
        smoke=smoke_document(multiclass.smoke_scores, multiclass.smoke),
        manifest=manifest_fields(multiclass, name="severity-lgbm", run_id="r1", seed=3, tags={}),
        onnx=onnx_signature(multiclass),
    )
    manifest = verify_run_package(folder)  # the smoke cases re-score from probabilities[:, 2]
    assert manifest.task is Task.MULTICLASS
    assert manifest.onnx.output == OUTPUT_NAME
    assert manifest.onnx.positive_class_index == 2
    raw = json.loads((folder / "manifest.json").read_text())
    assert raw["classes"] == [0, 1, 2]
    assert raw["score"].startswith("probabilities[:, 2] = P(label = 2)")
    assert raw["threshold"] is None


def test_multiclass_labels_must_be_class_numbers(multiclass) -> None:
    frame = severity_frame(500)
    config = ValidationConfig(min_rows=100)
    assert validate_frame(frame, config, MC_FEATURES, task=Task.MULTICLASS).passed
    halves = frame.assign(label=frame[LABEL] + 0.5)
    assert "schema.label" in {
        c.name for c in validate_frame(halves, config, MC_FEATURES, task=Task.MULTICLASS).failed
    }
    two = frame.assign(label=frame[LABEL].clip(upper=1))
    assert "label.classes" in {
        c.name for c in validate_frame(two, config, MC_FEATURES, task=Task.MULTICLASS).failed
    }


# --- regression through MLflow: log, register, compare with a regression champion -------------------------
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning")
def test_a_regression_run_is_logged_registered_and_compared_as_champion(
    regression, reg_frame, settings_for, tmp_path: Path
) -> None:
    from steelthread_training.promotion import compare_with_champion
    from steelthread_training.run_log import log_and_register
    from steelthread_training.tracking import Registry

    registry = Registry(settings_for(tmp_path))
    config = regression_config()
    report = validate_frame(reg_frame, config.validation, FEATURES, task=Task.REGRESSION, objective="poisson")
    registered = log_and_register(
        registry, regression, config=config, seed=3, tags={"data_fingerprint": "t"}, validation=report,
        workdir=tmp_path / "work",
    )  # fmt: skip
    run = registry.client.get_run(registered.run_id)
    assert run.data.tags["task"] == "regression"
    assert run.data.metrics["test.mae"] == pytest.approx(regression.evaluation.metrics.as_dict()["mae"])
    assert "fairness.error_ratio" in run.data.metrics
    assert "threshold" not in run.data.metrics
    assert not [p for p in run.data.params if p.startswith("threshold.")]
    plots = {a.path for a in registry.client.list_artifacts(registered.run_id, "plots")}
    assert plots == {f"plots/{n}.png" for n in ("predicted_vs_actual", "calibration", "importance")}
    manifest = verify_run_package(registered.package_dir)
    assert manifest.task is Task.REGRESSION
    assert manifest.onnx.output == REGRESSION_OUTPUT
    # The package ships the booster the graph came from: its contributions explain the graph's answers
    # (a log-link objective: exp(margin) is the prediction).
    assert contract.ships(manifest, contract.BOOSTER_FILE)
    explainer = BoosterExplainer.load(registered.package_dir, manifest)
    assert explainer is not None
    assert explainer.scale == "log_score"
    rows = matrix(regression.split.test, FEATURES)[:200].astype(np.float32)
    margins = explainer.contributions(rows).sum(axis=1)
    assert np.allclose(np.exp(margins), regression.test_scores[:200], rtol=1e-5)

    registry.set_alias("champion", registered.version)
    test = regression.split.test
    comparison = compare_with_champion(
        registry, test, test[LABEL].to_numpy(), task=Task.REGRESSION, config=config
    )
    assert comparison.metric == "mae"
    assert comparison.value == pytest.approx(regression.evaluation.metrics.as_dict()["mae"], rel=1e-6)
    assert "MAE on the same test rows" in comparison.note
    other = compare_with_champion(registry, test, test[LABEL].to_numpy(), task=Task.BINARY, config=config)
    assert other.value is None
    assert "is a regression model" in other.note
