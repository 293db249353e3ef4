"""The model-package contract: one schema, the strictest rule where readers once disagreed, atomic publish.

The files here are not real models (this member has no onnxruntime): the contract hashes and moves bytes,
and scoring the smoke cases is the caller's, passed in as a function.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steelthread_contracts import package as contract
from steelthread_contracts.package import PackageConflictError, PackageError

NAMES = ["a", "b", "c"]


def _run(folder: Path, **fields: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / contract.MODEL_FILE).write_bytes(b"model bytes")
    smoke = contract.SmokeDocument(
        feature_names=NAMES,
        tolerance=1e-5,
        cases=[contract.SmokeCase(features=[1.0, None, 3.0], expected_score=0.25)],
    )
    contract.write_smoke(folder, smoke)
    base = {"name": "m", "feature_names": NAMES, "threshold": 0.5, "review_threshold": 0.3, "run_id": "r1"}
    contract.write_run_manifest(folder, base | fields)
    return folder


def _score(value: float):
    return lambda model, smoke: [value] * len(smoke.cases)


def test_publish_copies_verifies_and_is_idempotent(tmp_path: Path) -> None:
    run = _run(tmp_path / "run")
    folder = contract.publish(run, tmp_path / "models", "3", score_smoke=_score(0.25))
    manifest = contract.read_manifest(folder)
    assert (manifest.version, manifest.format_version, manifest.task) == ("3", 1, contract.Task.BINARY)
    assert set(manifest.sha256) == {contract.MODEL_FILE, contract.SMOKE_FILE}
    assert contract.publish(run, tmp_path / "models", "3") == folder
    assert [p.name for p in (tmp_path / "models" / "versions").iterdir()] == ["3"]  # no temporary left


def test_publish_never_overwrites_a_different_package(tmp_path: Path) -> None:
    contract.publish(_run(tmp_path / "one"), tmp_path / "models", "3")
    with pytest.raises(PackageConflictError, match="refusing to overwrite"):
        contract.publish(_run(tmp_path / "two", run_id="r2"), tmp_path / "models", "3")


def test_smoke_scores_that_differ_stop_the_publish_and_leave_nothing(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="smoke check failed"):
        contract.publish(_run(tmp_path / "run"), tmp_path / "models", "3", score_smoke=_score(0.26))
    assert list((tmp_path / "models" / "versions").iterdir()) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"threshold": None}, "states threshold and review_threshold"),
        ({"review_threshold": None}, "states threshold and review_threshold"),
        ({"threshold": 1.0}, r"inside \(0, 1\)"),
        ({"review_threshold": 0.6}, "review_threshold must be inside"),
        ({"feature_names": ["a", "a"]}, "duplicates"),
        ({"feature_names": []}, "feature_names"),
        ({"name": ""}, "name"),
        ({"created_at": "2026-11-01T00:00:00"}, "created_at"),  # a timestamp without its zone
    ],
)
def test_a_manifest_readers_could_misread_is_refused_when_written(
    tmp_path: Path, fields: dict[str, object], message: str
) -> None:
    with pytest.raises(PackageError, match=message):
        _run(tmp_path / "run", **fields)


def test_a_regression_package_needs_no_thresholds(tmp_path: Path) -> None:
    run = _run(tmp_path / "run", task="regression", threshold=None, review_threshold=None)
    assert contract.read_run_manifest(run).task is contract.Task.REGRESSION


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m | {"version": 3}, "version"),  # batch once accepted an integer, serving did not
        (lambda m: m | {"version": "../3"}, "version"),
        (lambda m: m | {"format_version": 2}, "format_version 2 is not supported"),
        (lambda m: {k: v for k, v in m.items() if k != "format_version"}, "format_version"),
        (lambda m: m | {"onnx": m["onnx"] | {"dtype": "float64"}}, "onnx.dtype"),
    ],
)
def test_a_published_manifest_is_read_strictly(tmp_path: Path, edit, message: str) -> None:
    folder = contract.publish(_run(tmp_path / "run"), tmp_path / "models", "3")
    path = folder / contract.PACKAGE_FILE
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    with pytest.raises(PackageError, match=message):
        contract.read_manifest(folder)


def test_files_are_checked_against_their_hashes(tmp_path: Path) -> None:
    folder = contract.publish(_run(tmp_path / "run"), tmp_path / "models", "3")
    manifest = contract.read_manifest(folder)
    contract.verify_files(folder, manifest, contract.SCORING_FILES)
    (folder / contract.MODEL_FILE).write_bytes(b"other bytes")
    with pytest.raises(PackageError, match="does not match its recorded sha256"):
        contract.verify_files(folder, manifest, contract.SCORING_FILES)
    (folder / contract.REFERENCE_FILE).write_bytes(b"x")
    with pytest.raises(PackageError, match=r"records no sha256 for reference\.parquet"):
        contract.verify_files(folder, manifest, [contract.REFERENCE_FILE])


def test_pointers_resolve_only_to_the_version_they_name_inside_the_versions_folder(tmp_path: Path) -> None:
    models = tmp_path / "models"
    contract.publish(_run(tmp_path / "run"), models, "3")
    contract.write_pointer(models, "champion", "3")
    assert contract.resolve(models) == (models / "versions" / "3").resolve()
    assert contract.resolve(models, version="3") == models / "versions" / "3"
    with pytest.raises(PackageError, match=r"no model is 'staging'.*pointer: champion"):
        contract.resolve(models, alias="staging")
    with pytest.raises(PackageError, match="unknown alias 'prod'"):
        contract.resolve(models, alias="prod")
    with pytest.raises(PackageError, match="not published"):
        contract.write_pointer(models, "staging", "4")
    for path in ("../../outside", "versions", "/tmp"):
        (models / "champion.json").write_text(json.dumps({"version": "3", "path": path}))
        with pytest.raises(PackageError, match="points outside"):
            contract.resolve(models)
    (models / "champion.json").write_text(json.dumps({"version": "4", "path": "versions/3"}))
    with pytest.raises(PackageError, match=r"names version 4 but .* holds version 3"):
        contract.resolve(models)


def test_stable_keeps_the_champion_a_promotion_replaces(tmp_path: Path) -> None:
    models = tmp_path / "models"
    for version, run_id in (("1", "r1"), ("2", "r2"), ("3", "r3")):
        contract.publish(_run(tmp_path / version, run_id=run_id), models, version)
    assert contract.keep_stable(models, "1") is None  # a first champion replaces nothing
    contract.write_pointer(models, "champion", "1")
    assert contract.keep_stable(models, "2") == "1"
    contract.write_pointer(models, "champion", "2")
    assert contract.keep_stable(models, "2") == "1"  # a repeated promotion keeps what it kept
    assert contract.resolve(models, alias=contract.STABLE) == models / "versions" / "1"
    assert contract.keep_stable(models, "3") == "2"
    assert contract.STABLE not in contract.ALIASES  # never a registry alias, only a deployment pointer


def test_a_smoke_document_must_match_the_package_feature_order(tmp_path: Path) -> None:
    folder = contract.publish(_run(tmp_path / "run"), tmp_path / "models", "3")
    with pytest.raises(PackageError, match="feature_names differ"):
        contract.read_smoke(folder, ["c", "b", "a"])
    smoke = contract.read_smoke(folder, NAMES)
    assert smoke.matrix()[0][0] == 1.0
    assert smoke.matrix()[0][1] != smoke.matrix()[0][1]  # null is NaN
    with pytest.raises(PackageError, match="smoke check failed: score nan"):
        contract.check_smoke(smoke, [float("nan")])
