"""Promotion, rollback and audit round trips against a real MLflow registry (SQLite) and package folder."""

from __future__ import annotations

import itertools
import json
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers.training_task import CHAMPION_CHECK, KIND, PRIMARY
from steelthread_training import cli_audit, cli_promote
from steelthread_training.audit import champion_at, read_events
from steelthread_training.candidate import fit_candidate
from steelthread_training.config import LightGBMConfig, load_config
from steelthread_training.errors import CorruptArtifactError, GateRefusedError, PromotionError
from steelthread_training.frame import MODEL_FEATURES
from steelthread_training.gate import run_gate
from steelthread_training.package import read_pointer, write_pointer
from steelthread_training.promotion import compare_with_champion, promote, register_challenger, rollback
from steelthread_training.settings import DEFAULT_MODEL_NAME
from steelthread_training.tracking import Registry

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
]
# Why the filters: see test_training_pipeline.py (both come from inside MLflow 3.17, not from this code).


@dataclass
class Flow:
    settings: object
    registry: Registry
    versions: dict[str, str]
    times: dict[str, datetime]
    stable: dict[str, str | None]
    """What the deployment's `stable` pointer named after each champion move."""


def _tick() -> datetime:
    time.sleep(0.01)
    at = datetime.now(UTC)
    time.sleep(0.01)
    return at


@pytest.fixture(scope="module")
def flow(trained, settings_for, register_version, tmp_path_factory: pytest.TempPathFactory) -> Flow:
    """Own registry, packages and audit log; v1 and v2 pass their gate, v3 (a stump) does not."""
    root = tmp_path_factory.mktemp("promotion")
    settings = settings_for(
        root,
        tables_dir=trained.world.settings.tables_dir,
        feast_dir=trained.world.settings.feast_dir,
    )
    registry = Registry(settings)
    good = trained.outcome.candidate
    stump_config = load_config().model_copy(
        update={"lightgbm": LightGBMConfig(n_estimators=1, num_leaves=2, early_stopping_rounds=0)}
    )
    stump = fit_candidate(trained.world.training_set.frame, stump_config, seed=0)
    assert not stump.verdict.passed
    versions: dict[str, str] = {}
    times: dict[str, datetime] = {"start": _tick()}
    stable: dict[str, str | None] = {}
    models_dir = settings.models_dir
    versions["v1"] = register_version(registry, good, root / "w1")
    register_challenger(registry, settings, versions["v1"], "v1 passed")
    promote(registry, settings, versions["v1"], "staging", "v1 to staging")
    promote(registry, settings, versions["v1"], "champion", "v1 ships")
    times["v1_champion"] = _tick()
    stable["v1_champion"] = read_pointer(models_dir, "stable")
    versions["v2"] = register_version(registry, good, root / "w2")
    register_challenger(registry, settings, versions["v2"], "v2 passed")
    promote(registry, settings, versions["v2"], "staging", "v2 to staging")
    stable["v2_staging"] = read_pointer(models_dir, "stable")
    promote(registry, settings, versions["v2"], "champion", "v2 ships")
    times["v2_champion"] = _tick()
    stable["v2_champion"] = read_pointer(models_dir, "stable")
    rollback(registry, settings, "v2 misbehaves")
    times["rolled_back"] = _tick()
    stable["rolled_back"] = read_pointer(models_dir, "stable")
    versions["v3"] = register_version(registry, stump, root / "w3")
    return Flow(settings=settings, registry=registry, versions=versions, times=times, stable=stable)


def test_promotion_moves_aliases_and_publishes_packages(flow: Flow) -> None:
    v1, v2 = flow.versions["v1"], flow.versions["v2"]
    models_dir = flow.settings.models_dir
    assert flow.registry.alias_version("champion") == v1  # after the rollback
    assert flow.registry.alias_version("staging") is None
    assert flow.registry.alias_version("challenger") is None
    assert read_pointer(models_dir, "champion") == v1
    assert json.loads((models_dir / "champion.json").read_text()) == {"version": v1, "path": f"versions/{v1}"}
    assert not (models_dir / "staging.json").exists()
    for v in (v1, v2):
        assert json.loads((models_dir / "versions" / v / "package.json").read_text())["version"] == v
    assert not (models_dir / "versions" / flow.versions["v3"]).exists()


def test_the_replaced_champion_stays_published_as_stable(flow: Flow) -> None:
    """A first champion replaces nothing; the second keeps the first as `stable` (what a canary's other
    customers get); a rollback makes its target stable too, so no canary split is left behind."""
    v1 = flow.versions["v1"]
    # A staging move leaves `stable` alone: one `stable` per deployment location, the replaced champion,
    # which a staging deployment (serving the `staging` alias) reads too.
    assert flow.stable == {"v1_champion": None, "v2_staging": None, "v2_champion": v1, "rolled_back": v1}
    models_dir = flow.settings.models_dir
    assert json.loads((models_dir / "stable.json").read_text()) == {"version": v1, "path": f"versions/{v1}"}


def test_every_move_is_in_the_append_only_audit_log(flow: Flow) -> None:
    events = read_events(flow.settings.audit_dir)
    moves = [(e.action, e.version, e.from_alias, e.to_alias, e.replaced_version) for e in events]
    v1, v2 = flow.versions["v1"], flow.versions["v2"]
    assert moves == [
        ("register", v1, None, "challenger", None),
        ("promote", v1, "challenger", "staging", None),
        ("promote", v1, "staging", "champion", None),
        ("register", v2, None, "challenger", None),
        ("promote", v2, "challenger", "staging", None),
        ("promote", v2, "staging", "champion", v1),
        ("rollback", v1, "champion", "champion", v2),
    ]
    assert {e.actor for e in events} == {"pytest"}
    assert events[-1].reason == "v2 misbehaves"
    assert all(a.at <= b.at for a, b in itertools.pairwise(events))


def test_audit_answers_which_version_was_champion_at_a_time(flow: Flow) -> None:
    audit_dir, name = flow.settings.audit_dir, flow.settings.model_name
    assert champion_at(audit_dir, name, flow.times["start"]) is None
    assert champion_at(audit_dir, name, flow.times["v1_champion"]).version == flow.versions["v1"]
    at_v2 = champion_at(audit_dir, name, flow.times["v2_champion"])
    assert at_v2.version == flow.versions["v2"]
    assert at_v2.reason == "v2 ships"
    after = champion_at(audit_dir, name, flow.times["rolled_back"])
    assert (after.version, after.action) == (flow.versions["v1"], "rollback")


def test_audit_cli(flow: Flow) -> None:
    runner = CliRunner()
    env = {"STEELTHREAD_DATA_DIR": str(flow.settings.data_dir)}
    result = runner.invoke(cli_audit.app, ["--at", flow.times["v2_champion"].isoformat()], env=env)
    assert result.exit_code == 0, result.output
    assert f"version {flow.versions['v2']} of {DEFAULT_MODEL_NAME} was champion" in result.output
    assert "v2 ships" in result.output
    early = runner.invoke(cli_audit.app, ["--at", "2020-01-01T00:00:00Z"], env=env)
    assert early.exit_code == 8
    assert f"no version of {DEFAULT_MODEL_NAME} was champion" in early.output
    bad = runner.invoke(cli_audit.app, ["--at", "yesterday"], env=env)
    assert bad.exit_code == 2
    assert "not an ISO 8601 time" in bad.output


def test_a_second_rollback_goes_back_further_or_says_there_is_nothing(flow: Flow) -> None:
    with pytest.raises(PromotionError, match="no previous champion"):
        rollback(flow.registry, flow.settings, "again")


def test_order_is_enforced(flow: Flow) -> None:
    with pytest.raises(PromotionError, match="challenger -> staging -> champion"):
        promote(flow.registry, flow.settings, flow.versions["v2"], "champion", "skip staging")
    with pytest.raises(PromotionError, match="reason is required"):
        promote(flow.registry, flow.settings, flow.versions["v2"], "staging", "   ")
    with pytest.raises(PromotionError, match="expected staging or champion"):
        promote(flow.registry, flow.settings, flow.versions["v2"], "production", "why")


def test_a_version_whose_gate_failed_is_never_promoted(flow: Flow) -> None:
    v3 = flow.versions["v3"]
    assert flow.registry.gate_verdict(v3)["passed"] is False
    with pytest.raises(GateRefusedError, match=f"version {v3} did not pass its gate"):
        register_challenger(flow.registry, flow.settings, v3, "force")
    flow.registry.set_alias("challenger", v3)  # someone set the alias by hand in the MLflow UI
    try:
        with pytest.raises(GateRefusedError, match=rf"did not pass its gate \(failed: [^)]*{PRIMARY}"):
            promote(flow.registry, flow.settings, v3, "staging", "sneak it in")
    finally:
        flow.registry.delete_alias("challenger")
    assert flow.registry.alias_version("staging") is None


def test_a_corrupt_artifact_is_refused(flow: Flow, tmp_path: Path) -> None:
    v2 = flow.versions["v2"]
    run_id = flow.registry.version(v2).run_id
    artifacts = Path(flow.registry.client.get_run(run_id).info.artifact_uri.removeprefix("file://"))
    model = artifacts / "package" / "model.onnx"
    backup = tmp_path / "model.onnx"
    shutil.copyfile(model, backup)
    shutil.rmtree(flow.settings.models_dir / "versions" / v2)
    flow.registry.set_alias("challenger", v2)
    try:
        model.write_bytes(b"not an onnx graph")
        with pytest.raises(CorruptArtifactError, match="does not match its recorded sha256"):
            promote(flow.registry, flow.settings, v2, "staging", "corrupt")
        shutil.copyfile(backup, model)
        gate = artifacts / "gate.json"
        gate_text = gate.read_text()
        gate.write_text("{broken")
        with pytest.raises(CorruptArtifactError, match="not valid JSON"):
            promote(flow.registry, flow.settings, v2, "staging", "corrupt")
        gate.write_text(gate_text)
    finally:
        flow.registry.delete_alias("challenger")
        shutil.copyfile(backup, model)
    assert flow.registry.alias_version("staging") is None


def test_bad_aliases_and_pointers_are_clear_errors(flow: Flow, tmp_path: Path) -> None:
    with pytest.raises(PromotionError, match="unknown alias 'prod'"):
        read_pointer(flow.settings.models_dir, "prod")
    with pytest.raises(PromotionError, match="not published"):
        write_pointer(tmp_path, "champion", "42")
    (tmp_path / "champion.json").write_text("{not json")
    with pytest.raises(CorruptArtifactError, match="alias pointer"):
        read_pointer(tmp_path, "champion")


def test_promote_cli_errors_are_one_line(flow: Flow) -> None:
    runner = CliRunner()
    env = {"STEELTHREAD_DATA_DIR": str(flow.settings.data_dir)}
    missing = runner.invoke(
        cli_promote.app, ["promote", "--version", "99", "--to", "staging", "--reason", "x"], env=env
    )
    assert missing.exit_code == 5
    assert missing.output.strip() == f"error: model '{DEFAULT_MODEL_NAME}' has no version 99"
    order = runner.invoke(
        cli_promote.app,
        ["promote", "--version", flow.versions["v2"], "--to", "champion", "--reason", "x"],
        env=env,
    )
    assert order.exit_code == 6
    assert "Traceback" not in order.output
    assert order.output.count("\n") == 1
    status = runner.invoke(cli_promote.app, ["status"], env=env)
    assert status.exit_code == 0
    assert f"champion: registry {flow.versions['v1']}, published {flow.versions['v1']}" in status.output
    # After the rollback to v1, stable names v1 too: settled, a canary split would serve no older model.
    assert f"    stable: published {flow.versions['v1']} (settled: the champion)" in status.output


def test_the_champion_is_scored_on_the_same_test_rows(flow: Flow, trained) -> None:
    candidate = trained.outcome.candidate
    test = candidate.split.test
    y = test["label"].to_numpy()
    comparison = compare_with_champion(flow.registry, test, y)
    assert comparison.version == flow.versions["v1"]
    # v1 is this very model, so scoring its published ONNX on the same rows gives the same primary metric.
    assert comparison.metric == PRIMARY
    assert comparison.value == pytest.approx(KIND.metric(candidate.evaluation, PRIMARY), rel=1e-6, abs=1e-6)
    dropped = MODEL_FEATURES[1]
    narrowed = compare_with_champion(flow.registry, test.drop(columns=[dropped]), y)
    assert narrowed.value is None
    assert f"needs features absent from this frame: {dropped}" in narrowed.note
    verdict = run_gate(candidate.evaluation, candidate.baseline_eval, narrowed, load_config().gate)
    assert CHAMPION_CHECK in {c.name for c in verdict.failed}
