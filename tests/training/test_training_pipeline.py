"""The real path: generated data -> Feast point-in-time frame -> train -> gate -> ONNX -> MLflow -> package."""

from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

from helpers.training_task import CHAMPION_CHECK, EVALUATION_TABLE, KIND, PLOTS, PRIMARY
from steelthread_contracts.package import Task
from steelthread_training.candidate import fit_candidate
from steelthread_training.config import load_config
from steelthread_training.export import INPUT_NAME, onnx_scores, onnx_session, output_name
from steelthread_training.frame import (
    LABEL,
    MODEL_FEATURES,
    REQUEST_ID,
    SCORE,
    SLICE_COLUMNS,
    TASK,
    TIME,
    USE_CASE,
)
from steelthread_training.package import verify_package
from steelthread_training.smoke import CASES
from steelthread_training.tracking import Registry
from steelthread_training.validation import validate_frame

pytestmark = [
    pytest.mark.slow,
    # MLflow 3.17's SQLAlchemy store calls configure_mappers() on a relationship declared with the
    # `noload` strategy, which SQLAlchemy 2 deprecates; not ours, harmless for a local SQLite store.
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"),
    # mlflow.pyfunc's import builds schemas for its own chat/agent types and warns about their `Any` hints.
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
]


def test_training_frame_is_point_in_time_and_complete(world) -> None:
    frame = world.training_set.frame
    assert list(frame.columns[:2]) == [REQUEST_ID, USE_CASE.join_key]
    for name in (*MODEL_FEATURES, LABEL, *SLICE_COLUMNS):
        assert name in frame.columns
    assert frame[REQUEST_ID].is_unique
    report = validate_frame(frame, load_config().validation)
    assert report.passed, report.failed  # the label checks of the use case's task among them
    if TASK is Task.BINARY:
        assert set(frame[LABEL].unique()) <= {0, 1}
    assert frame[TIME].is_monotonic_increasing
    assert len(frame) == 4_000  # every generated event has a label eventually


def test_the_first_model_passes_its_gate_with_no_champion(trained) -> None:
    verdict = trained.outcome.candidate.verdict
    assert verdict.passed, [c for c in verdict.checks if not c.passed]
    champion = next(c for c in verdict.checks if c.name == CHAMPION_CHECK)
    assert champion.value is None
    assert "no champion" in champion.note
    assert trained.outcome.challenger is not None


def test_ml_smoke_cases_score_inside_their_bounds(trained) -> None:
    scores = trained.outcome.candidate.smoke_scores
    for case, score in zip(CASES, scores, strict=True):
        low, high = case.bounds
        assert low <= score <= high, f"{case.name}: {score:.4f} not in [{low}, {high}]"
    by_name = {case.name: float(score) for case, score in zip(CASES, scores, strict=True)}
    ordered = [by_name[name] for name in USE_CASE.smoke_ordering]
    assert all(a < b for a, b in pairwise(ordered)), dict(zip(USE_CASE.smoke_ordering, ordered, strict=True))


def test_training_twice_gives_the_identical_model_and_metrics(trained) -> None:
    again = fit_candidate(trained.world.training_set.frame, load_config(), seed=trained.world.settings.seed)
    first = trained.outcome.candidate
    assert again.tree_hash == first.tree_hash
    assert again.evaluation.metrics == first.evaluation.metrics
    assert again.baseline_eval.metrics == first.baseline_eval.metrics
    assert again.onnx_bytes == first.onnx_bytes
    np.testing.assert_array_equal(again.test_scores, first.test_scores)


def test_run_is_logged_with_everything_a_reviewer_needs(trained) -> None:
    registry = Registry(trained.world.settings)
    reg = trained.outcome.registered
    run = registry.client.get_run(reg.run_id)
    for tag in ("git_sha", "lockfile_sha256", "data_fingerprint", "feature_service", "seed", "tree_hash"):
        assert run.data.tags.get(tag), tag
    assert run.data.tags["feature_service"] == USE_CASE.feature_service
    assert run.data.tags["data_fingerprint"] == trained.outcome.fingerprint
    evaluation = trained.outcome.candidate.evaluation
    assert run.data.metrics[f"test.{PRIMARY}"] == pytest.approx(KIND.metric(evaluation, PRIMARY))
    assert "lightgbm.deterministic" in run.data.params
    artifacts = {a.path for a in registry.client.list_artifacts(reg.run_id)}
    assert {"gate.json", "model_card.md", "plots", "evaluation", "package"} <= artifacts
    plots = {a.path for a in registry.client.list_artifacts(reg.run_id, "plots")}
    assert plots == {f"plots/{n}.png" for n in PLOTS}
    tables = {a.path for a in registry.client.list_artifacts(reg.run_id, "evaluation")}
    assert {"evaluation/slices.csv", "evaluation/fairness.json", EVALUATION_TABLE} <= tables
    assert registry.gate_verdict(reg.version)["passed"] is True


def test_mlflow_shows_a_named_run_its_dataset_and_the_model_card_on_the_version(trained) -> None:
    """MLflow hygiene: a run name that says what it is, the training frame as the run's dataset input with
    its fingerprint, the model card as the registered version's description, and an experiment the UI
    opens on model-training runs."""
    registry = Registry(trained.world.settings)
    reg = trained.outcome.registered
    run = registry.client.get_run(reg.run_id)
    seed = trained.world.settings.seed
    assert (
        run.info.run_name == f"train-{registry.model_name}-data-{trained.outcome.fingerprint[:8]}-seed{seed}"
    )
    (dataset,) = run.inputs.dataset_inputs
    assert {t.key: t.value for t in dataset.tags}["fingerprint"] == trained.outcome.fingerprint
    assert {t.key: t.value for t in dataset.tags}["mlflow.data.context"] == "training"
    assert dataset.dataset.name.endswith(trained.outcome.fingerprint[:12])
    assert registry.version(reg.version).description == reg.model_card
    assert reg.model_card.startswith("# ")
    experiment = registry.client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_version_is_registered_with_signature_input_example_and_challenger_alias(trained) -> None:
    import mlflow

    registry = Registry(trained.world.settings)
    version = trained.outcome.registered.version
    mv = registry.version(version)
    assert mv.run_id == trained.outcome.registered.run_id
    assert "challenger" in mv.aliases
    assert mv.tags["gate"] == "passed"
    info = mlflow.models.get_model_info(f"models:/{registry.model_name}/{version}")
    assert info.signature is not None
    inputs = info.signature.inputs.to_dict()
    assert inputs[0]["tensor-spec"]["dtype"] == "float32"
    assert list(inputs[0]["tensor-spec"]["shape"]) == [-1, len(MODEL_FEATURES)]
    assert info.saved_input_example_info is not None


def test_challenger_package_is_published_for_serving(trained) -> None:
    models_dir = trained.world.settings.models_dir
    version = trained.outcome.registered.version
    pointer = json.loads((models_dir / "challenger.json").read_text())
    assert pointer == {"version": version, "path": f"versions/{version}"}
    folder = models_dir / pointer["path"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "booster.txt",  # a binary LightGBM: explained from its own booster (ADR 0017)
        "model.onnx",
        "package.json",
        "reference.parquet",
        "smoke.json",
    ]
    meta = verify_package(folder).model_dump(mode="json")
    for field in (
        "name",
        "version",
        "feature_names",
        "threshold",
        "feature_service",
        "run_id",
        "created_at",
        "metrics",
    ):
        assert field in meta, field
    assert meta["version"] == version
    assert meta["feature_names"] == list(MODEL_FEATURES)
    candidate = trained.outcome.candidate
    assert meta["task"] == TASK.value
    assert meta["onnx"] == {
        "input": INPUT_NAME,
        "output": output_name(TASK),
        "dtype": "float32",
        "positive_class_index": candidate.score_column,
        "missing_value": "NaN",
    }
    if TASK is Task.BINARY:
        assert candidate.score_column == 1
        assert 0 < meta["threshold"] < 1
    else:
        assert meta["threshold"] is None  # the use case's decision policy holds the cuts
    reference = pd.read_parquet(folder / "reference.parquet")
    assert list(reference.columns) == [*MODEL_FEATURES, SCORE, LABEL, *SLICE_COLUMNS]
    assert len(reference) == len(candidate.split.test)
    session = onnx_session((folder / "model.onnx").read_bytes())
    rescored = onnx_scores(
        session,
        reference[list(MODEL_FEATURES)].to_numpy(dtype=np.float64),
        output=output_name(TASK),
        column=candidate.score_column,
    )
    np.testing.assert_allclose(rescored, reference[SCORE].to_numpy(), rtol=1e-7, atol=1e-7)


def test_rows_and_labels_as_of_narrow_the_training_set(world) -> None:
    from datetime import UTC, datetime

    from steelthread_training.dataset import build_training_set

    full = world.training_set.frame
    as_of = datetime(2026, 6, 1, tzinfo=UTC)
    tables = USE_CASE.tables
    labels = pd.read_parquet(world.settings.tables_dir / tables.labels)
    known = set(labels.loc[labels[tables.label_time] <= pd.Timestamp(as_of), REQUEST_ID])
    narrowed = build_training_set(world.settings, rows=300, labels_as_of=as_of).frame
    assert len(narrowed) == 300
    assert set(narrowed[REQUEST_ID]) <= known
    assert len(known) < len(full)  # the cut removes labels: the check above can fail
    newest_known = full[full[REQUEST_ID].isin(known)].tail(300)
    assert list(narrowed[REQUEST_ID]) == list(newest_known[REQUEST_ID])
    pd.testing.assert_frame_equal(
        narrowed[list(MODEL_FEATURES)].reset_index(drop=True),
        newest_known[list(MODEL_FEATURES)].reset_index(drop=True),
    )
