"""Loading, checking and refusing model packages; hot swap through the registry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers.packages import MODEL_NAME, make_package, onnx_scores, publish, rehash, unpublish
from helpers.usecase import USE_CASE
from steelthread_contracts.package import Task
from steelthread_features.definitions import FEATURE_NAMES
from steelthread_serving.metrics import ServingMetrics
from steelthread_serving.package import PackageError, load_package
from steelthread_serving.registry import ModelRegistry

CPU = ["CPUExecutionProvider"]


def test_a_valid_package_loads_and_reports_the_provider_that_runs(tmp_path: Path) -> None:
    folder = make_package(tmp_path, "1")
    model = load_package(folder, ["CUDAExecutionProvider", "CPUExecutionProvider"], list(FEATURE_NAMES))
    assert model.version == "1"
    assert model.execution_provider == "CPUExecutionProvider"  # no GPU here: fell back to CPU
    x = np.random.default_rng(3).normal(size=(20, len(FEATURE_NAMES))).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), onnx_scores(folder / "model.onnx", x), rtol=0, atol=0)


def test_missing_values_reach_the_model_as_nan(tmp_path: Path) -> None:
    model = load_package(make_package(tmp_path, "1"), CPU)
    row = dict.fromkeys(FEATURE_NAMES, 0.0) | {FEATURE_NAMES[0]: None}
    assert np.isnan(model.matrix([row])[0, 0])
    low, high = USE_CASE.score_range
    assert low <= model.predict(model.matrix([row]))[0] <= high


def _rewrite(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new))


def _retask(path: Path, task: Task) -> None:
    """Say the package is of another task, with what that task's manifest needs (so only the task is
    wrong): a binary package states thresholds, the others do not."""
    document = json.loads(path.read_text())
    thresholds = (0.5, 0.4) if task is Task.BINARY else (None, None)
    document |= {"task": task.value, "threshold": thresholds[0], "review_threshold": thresholds[1]}
    path.write_text(json.dumps(document))


def _shift_smoke(folder: Path) -> None:
    """Move every expected smoke score far from what the model answers, and re-hash the package."""
    path = folder / "smoke.json"
    document = json.loads(path.read_text())
    for case in document["cases"]:
        case["expected_score"] += 9.0
    path.write_text(json.dumps(document))
    rehash(folder)


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        (
            lambda f: (f / "model.onnx").write_bytes(b"not a model"),
            "model.onnx does not match its recorded sha256",
        ),
        (lambda f: ((f / "model.onnx").write_bytes(b"not a model"), rehash(f)), "model.onnx does not load"),
        (lambda f: (f / "package.json").unlink(), "package.json is missing"),
        (
            lambda f: (f / "package.json").write_text('{"name": "x"}'),
            "package.json is invalid: format_version",
        ),
        (
            lambda f: _rewrite(f / "package.json", '"format_version": 1', '"format_version": 9'),
            "format_version 9",
        ),
        (lambda f: _rewrite(f / "package.json", '"version": "1"', '"version": 1'), "invalid: version"),
        *(
            (
                lambda f, other=other: _retask(f / "package.json", other),
                rf"package.json says task {other}, but use case '\w+' is {USE_CASE.task}",
            )
            for other in Task
            if other is not USE_CASE.task
        ),
        (lambda f: (f / "smoke.json").unlink(), "smoke.json is missing"),
        (
            _shift_smoke,
            "smoke check failed",
        ),
    ],
)
def test_broken_packages_are_refused_with_a_reason(tmp_path: Path, breakage, reason: str) -> None:
    folder = make_package(tmp_path, "1")
    breakage(folder)
    with pytest.raises(PackageError, match=reason):
        load_package(folder, CPU, list(FEATURE_NAMES))


def test_feature_list_must_match_the_feature_service(tmp_path: Path) -> None:
    names = [*list(FEATURE_NAMES)[:-1], "shoe_size"]
    folder = make_package(tmp_path, "1", feature_names=names)
    with pytest.raises(PackageError, match="unknown to the service: shoe_size"):
        load_package(folder, CPU, list(FEATURE_NAMES))
    reordered = list(reversed(FEATURE_NAMES))
    with pytest.raises(PackageError, match="order or set"):
        load_package(make_package(tmp_path / "b", "2", feature_names=reordered), CPU, list(FEATURE_NAMES))


def test_width_mismatch_between_graph_and_manifest_is_refused(tmp_path: Path) -> None:
    folder = make_package(tmp_path, "1")
    manifest = json.loads((folder / "package.json").read_text())
    manifest["feature_names"] = manifest["feature_names"][:-1]
    (folder / "package.json").write_text(json.dumps(manifest))
    with pytest.raises(PackageError, match="model expects"):
        load_package(folder, CPU)


def test_registry_swaps_refuses_and_keeps_the_old_model(tmp_path: Path) -> None:
    metrics = ServingMetrics()
    registry = ModelRegistry(tmp_path, CPU, metrics, expected_features=lambda: list(FEATURE_NAMES))
    registry.refresh()
    assert registry.slots.champion is None
    make_package(tmp_path, "1", seed=1)
    publish(tmp_path, "champion", "1")
    registry.refresh()
    assert registry.slots.champion is not None
    assert registry.slots.champion.version == "1"

    broken = make_package(tmp_path, "2", seed=2)
    (broken / "model.onnx").write_bytes(b"garbage")
    rehash(broken)  # past the hash check: the graph itself must be refused
    publish(tmp_path, "champion", "2")
    registry.refresh()
    assert registry.slots.champion.version == "1"  # still serving
    assert registry.last_refused is not None
    assert "champion: model.onnx does not load" in registry.last_refused.reason
    refusals = metrics.registry.get_sample_value("steelthread_model_refusals_total")
    registry.refresh()  # the same bad pointer is not retried (and counted) on every poll
    assert metrics.registry.get_sample_value("steelthread_model_refusals_total") == refusals == 1

    make_package(tmp_path, "3", seed=3)
    publish(tmp_path, "champion", "3")
    make_package(tmp_path, "4", seed=4)
    publish(tmp_path, "challenger", "4")
    registry.refresh()
    assert (registry.slots.champion.version, registry.slots.challenger.version) == ("3", "4")
    labels = {"role": "champion", "name": MODEL_NAME, "version": "3"}
    assert metrics.registry.get_sample_value("steelthread_model_info", labels) == 1
    # Package age on the dashboard is time() minus the training time, not the load time.
    created = "steelthread_model_created_timestamp_seconds"
    trained = registry.slots.challenger.manifest.created_at
    assert trained is not None
    assert metrics.registry.get_sample_value(created, {"role": "challenger"}) == trained.timestamp()
    unpublish(tmp_path, "challenger")
    registry.refresh()
    assert registry.slots.challenger is None
    assert metrics.registry.get_sample_value(created, {"role": "challenger"}) is None
    assert metrics.registry.get_sample_value(created, {"role": "champion"}) is not None


def test_pointer_and_package_versions_must_agree(tmp_path: Path) -> None:
    make_package(tmp_path, "1")
    (tmp_path / "champion.json").write_text(
        '{"version": "7", "path": "versions/1"}'
    )  # what a bad copy leaves
    registry = ModelRegistry(tmp_path, CPU, ServingMetrics(), expected_features=lambda: None)
    registry.refresh()
    assert registry.slots.champion is None
    assert registry.last_refused is not None
    assert "pointer says version 7" in registry.last_refused.reason


def test_a_staging_deployment_serves_the_staging_alias_as_its_champion(tmp_path: Path) -> None:
    make_package(tmp_path, "1", seed=1)
    make_package(tmp_path, "2", seed=2)
    publish(tmp_path, "champion", "1")
    publish(tmp_path, "staging", "2")
    registry = ModelRegistry(tmp_path, CPU, ServingMetrics(), lambda: None, champion_alias="staging")
    registry.refresh()
    assert registry.slots.champion is not None
    assert registry.slots.champion.version == "2"


@pytest.mark.parametrize("path", ["../outside", "versions/../../outside", "/etc", "versions"])
def test_a_pointer_that_leaves_the_versions_folder_is_refused(tmp_path: Path, path: str) -> None:
    make_package(tmp_path / "models", "1")
    (tmp_path / "outside").mkdir()
    (tmp_path / "models" / "champion.json").write_text(json.dumps({"version": "1", "path": path}))
    registry = ModelRegistry(tmp_path / "models", CPU, ServingMetrics(), expected_features=lambda: None)
    registry.refresh()
    assert registry.slots.champion is None
    assert registry.last_refused is not None
    assert "points outside" in registry.last_refused.reason
