"""The published model package, the audit replay, the model card and plots, without MLflow.

The candidate is the active use case's (its task, features, slices and smoke cases) fitted on a random frame
of its columns, so the package is the one training would publish for that use case.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.training_task import KIND, PLOTS
from steelthread_contracts.package import Task
from steelthread_training.audit import AuditEvent, append, champion_at, champion_stack, read_events
from steelthread_training.candidate import fit_candidate
from steelthread_training.config import (
    LightGBMConfig,
    SliceConfig,
    TrainingConfig,
    ValidationConfig,
    load_config,
)
from steelthread_training.errors import AuditError, CorruptArtifactError, PromotionError
from steelthread_training.export import output_name
from steelthread_training.frame import LABEL, MODEL_FEATURES, PROTECTED, SCORE, SERVICE, SLICE_COLUMNS, TASK
from steelthread_training.model_card import model_card
from steelthread_training.models import labels
from steelthread_training.package import (
    MANIFEST_FILE,
    publish_version,
    read_pointer,
    verify_run_package,
    write_pointer,
    write_run_package,
)
from steelthread_training.run_log import manifest_fields, onnx_signature
from steelthread_training.settings import DEFAULT_MODEL_NAME
from steelthread_training.smoke import smoke_document

SMALL = TrainingConfig(
    validation=ValidationConfig(min_rows=100, min_positives=10),
    slices=SliceConfig(min_rows=50),
    lightgbm=LightGBMConfig(n_estimators=40, num_threads=1, early_stopping_rounds=10),
    baseline=load_config().baseline.model_copy(update={"features": None}),
)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def candidate(make_frame):
    return fit_candidate(make_frame(1_500, seed=5), SMALL, seed=1)


@pytest.fixture
def run_package(candidate, tmp_path: Path) -> Path:
    return write_run_package(
        tmp_path / "run" / "package",
        onnx_bytes=candidate.onnx_bytes,
        reference=candidate.reference(),
        smoke=smoke_document(candidate.smoke_scores, candidate.smoke),
        manifest=manifest_fields(candidate, name=DEFAULT_MODEL_NAME, run_id="r1", seed=1, tags={}),
        onnx=onnx_signature(candidate),
    )


def test_publish_writes_the_package_and_an_atomic_pointer(run_package: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    folder = publish_version(run_package, models, "7")
    assert sorted(p.name for p in folder.iterdir()) == [
        "model.onnx",
        "package.json",
        "reference.parquet",
        "smoke.json",
    ]
    meta = json.loads((folder / "package.json").read_text())
    assert meta["version"] == "7"
    assert meta["task"] == TASK.value
    assert meta["feature_names"] == list(MODEL_FEATURES)
    assert meta["onnx"]["output"] == output_name(TASK)
    assert oct(folder.stat().st_mode & 0o777) == "0o755"
    pointer = write_pointer(models, "champion", "7")
    assert json.loads(pointer.read_text()) == {"version": "7", "path": "versions/7"}
    assert oct(pointer.stat().st_mode & 0o777) == "0o644"
    assert read_pointer(models, "champion") == "7"
    assert read_pointer(models, "staging") is None
    assert not [p for p in models.iterdir() if p.name.startswith(".")]  # no temporary leftovers
    assert publish_version(run_package, models, "7") == folder  # idempotent


def test_publish_refuses_to_overwrite_a_different_package(run_package: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    publish_version(run_package, models, "7")
    manifest = json.loads((run_package / MANIFEST_FILE).read_text())
    manifest["run_id"] = "another-run"
    (run_package / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(PromotionError, match="already holds a different package"):
        publish_version(run_package, models, "7")


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda d: (d / "model.onnx").write_bytes(b"garbage"), "does not match its recorded sha256"),
        (lambda d: (d / "reference.parquet").unlink(), "is missing"),
        (lambda d: (d / MANIFEST_FILE).write_text("{"), "not readable JSON"),
    ],
)
def test_a_tampered_package_is_refused(run_package: Path, tmp_path: Path, tamper, message: str) -> None:
    tamper(run_package)
    with pytest.raises(CorruptArtifactError, match=message):
        publish_version(run_package, tmp_path / "models", "1")
    assert not (tmp_path / "models" / "versions" / "1").exists()


def test_smoke_scores_that_do_not_reproduce_are_refused(run_package: Path) -> None:
    smoke = json.loads((run_package / "smoke.json").read_text())
    smoke["cases"][0]["expected_score"] += 100 * smoke["tolerance"]
    (run_package / "smoke.json").write_text(json.dumps(smoke))
    manifest = json.loads((run_package / MANIFEST_FILE).read_text())
    import hashlib

    manifest["sha256"]["smoke.json"] = hashlib.sha256((run_package / "smoke.json").read_bytes()).hexdigest()
    (run_package / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(CorruptArtifactError, match="smoke check failed"):
        verify_run_package(run_package)


def _event(minutes: int, action: str, version: str, to: str = "champion") -> AuditEvent:
    return AuditEvent(
        at=T0 + timedelta(minutes=minutes),
        actor="t",
        action=action,  # type: ignore[arg-type]
        model="m",
        version=version,
        from_alias="staging",
        to_alias=to,
        replaced_version=None,
        reason=f"{action} {version}",
    )


def test_champion_history_is_a_stack(tmp_path: Path) -> None:
    for event in (
        _event(1, "register", "1", to="challenger"),
        _event(2, "promote", "1"),
        _event(3, "promote", "2"),
        _event(4, "promote", "3"),
        _event(5, "rollback", "2"),
        _event(6, "rollback", "1"),
    ):
        append(tmp_path, event)
    events = read_events(tmp_path)
    assert [e.version for e in champion_stack(events, "m")] == ["1"]
    assert [e.version for e in champion_stack(events, "m", until=T0 + timedelta(minutes=4))] == [
        "1",
        "2",
        "3",
    ]
    assert champion_at(tmp_path, "m", T0) is None
    assert champion_at(tmp_path, "m", T0 + timedelta(minutes=3, seconds=30)).version == "2"
    at = champion_at(tmp_path, "m", T0 + timedelta(minutes=5))
    assert (at.version, at.action) == ("2", "rollback")
    assert champion_at(tmp_path, "other", T0 + timedelta(days=1)) is None
    naive = champion_at(tmp_path, "m", datetime(2026, 1, 1, 0, 2, 30))
    assert naive.version == "1"


def test_the_audit_log_is_append_only_json_lines(tmp_path: Path) -> None:
    append(tmp_path, _event(1, "promote", "1"))
    first = (tmp_path / "promotions.jsonl").read_text()
    append(tmp_path, _event(2, "promote", "2"))
    text = (tmp_path / "promotions.jsonl").read_text()
    assert text.startswith(first)
    assert [json.loads(line)["version"] for line in text.splitlines()] == ["1", "2"]
    with (tmp_path / "promotions.jsonl").open("a") as handle:
        handle.write("{broken\n")
    with pytest.raises(AuditError, match="corrupt"):
        read_events(tmp_path)
    os.remove(tmp_path / "promotions.jsonl")
    assert read_events(tmp_path) == []


def test_model_card_and_plots(candidate) -> None:
    card = model_card(
        name=DEFAULT_MODEL_NAME,
        feature_service=SERVICE,
        feature_names=["a", "b"],
        candidate=candidate.evaluation,
        baseline=candidate.baseline_eval,
        verdict=candidate.verdict,
        split=candidate.split.describe(),
        tags={"seed": "1", "data_fingerprint": "abc"},
        review_threshold=candidate.review_threshold,
    )
    assert card.startswith(f"# Model card: {DEFAULT_MODEL_NAME}")
    assert f"## Gate: {'PASSED' if candidate.verdict.passed else 'REFUSED'}" in card
    assert f"| {KIND.primary} |" in card
    for check in candidate.verdict.checks:
        assert f"| {check.name} |" in card
    assert ("| smoke.ordering |" in card) is bool(candidate.smoke.ordering)
    if PROTECTED is None:
        assert "Fairness: not applicable" in card
    else:
        assert PROTECTED in card
    y = labels(candidate.split.test, TASK)
    figures = KIND.plots(
        y,
        {"lightgbm": candidate.test_scores},
        {"lightgbm": candidate.evaluation},
        candidate.importance,
    )
    assert sorted(figures) == sorted(f"{name}.png" for name in PLOTS)
    for png in figures.values():
        assert png.startswith(b"\x89PNG")


def test_reference_has_features_score_label_and_slices(candidate) -> None:
    reference = candidate.reference()
    assert reference.columns.tolist() == [*MODEL_FEATURES, SCORE, LABEL, *SLICE_COLUMNS]
    assert len(reference) == len(candidate.split.test)
    if TASK is Task.REGRESSION:
        assert pd.api.types.is_float_dtype(reference[LABEL])
    else:
        assert pd.api.types.is_integer_dtype(reference[LABEL])
    np.testing.assert_array_equal(reference[SCORE].to_numpy(), candidate.test_scores)


def test_importing_the_package_does_not_import_mlflow_lightgbm_or_feast() -> None:
    """The CLIs' --help and the package format must stay cheap; heavy libraries load when a stage runs."""
    import subprocess
    import sys

    code = (
        "import sys, steelthread_training.pipeline, steelthread_training.package, steelthread_training.cli_train;"
        "print(sorted(m for m in ('mlflow', 'lightgbm', 'feast', 'sklearn') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"
