"""`steelthread-train run`: the whole path through the CLI, and its clear errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers.training_task import INSANE_LABEL, PRIMARY, STRICT_GATE
from steelthread_training import cli_promote, cli_train
from steelthread_training.package import read_pointer, write_pointer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
]
# Why the filters: see test_training_pipeline.py (both come from inside MLflow 3.17, not from this code).


def _env(world, root: Path) -> dict[str, str]:
    """Read the session's generated data; write MLflow, packages and the audit log under `root`."""
    return {
        "STEELTHREAD_DATA_DIR": str(root),
        "STEELTHREAD_TABLES_DIR": str(world.settings.tables_dir),
        "STEELTHREAD_FEAST_DIR": str(world.settings.feast_dir),
        "STEELTHREAD_MLFLOW_TRACKING_URI": "",
        "STEELTHREAD_ACTOR": "cli-test",
    }


@pytest.fixture(scope="module")
def cli_root(world, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One MLflow store for this module: a first run through the CLI registers version 1."""
    root = tmp_path_factory.mktemp("cli")
    result = CliRunner().invoke(
        cli_train.app,
        ["run", "--seed", "3", "--report-dir", str(root / "report")],
        env=_env(world, root),
    )
    assert result.exit_code == 0, result.output
    (root / "first-run.txt").write_text(result.output)
    return root


def test_train_run_registers_and_publishes_a_challenger(cli_root: Path) -> None:
    output = (cli_root / "first-run.txt").read_text()
    assert "gate: PASSED" in output
    assert "version 1 is the challenger" in output
    for stage in ("build", "validate", "registry", "split", "train", "evaluate", "export", "gate", "log"):
        assert f"{stage} " in output.split("stages:")[1]
    assert json.loads((cli_root / "models" / "challenger.json").read_text())["version"] == "1"
    assert (cli_root / "audit" / "promotions.jsonl").read_text().count("\n") == 1


def test_train_run_writes_the_report_the_workflow_posts(cli_root: Path) -> None:
    report = cli_root / "report"
    gate = json.loads((report / "gate.json").read_text())
    assert gate["passed"] is True
    assert set(json.loads((report / "metrics.json").read_text())) == {"lightgbm", "baseline"}
    review = (report / "review.md").read_text()
    assert "v1: ✅ gate passed" in review
    assert (report / "model_card.md").read_text().strip() in review


def test_a_refused_gate_exits_3_and_sets_no_alias(world, cli_root: Path, tmp_path: Path) -> None:
    config = tmp_path / "strict.yaml"
    config.write_text(STRICT_GATE)
    result = CliRunner().invoke(
        cli_train.app, ["run", "--rows", "1000", "--config", str(config)], env=_env(world, cli_root)
    )
    assert result.exit_code == 3, result.output
    assert "gate: REFUSED" in result.output
    assert f"version 2 was registered but refused by its gate ({PRIMARY}" in result.output
    assert json.loads((cli_root / "models" / "challenger.json").read_text())["version"] == "1"
    assert not (cli_root / "models" / "versions" / "2").exists()


def test_rollback_without_a_champion_is_one_line(world, cli_root: Path) -> None:
    result = CliRunner().invoke(cli_promote.app, ["rollback", "--reason", "x"], env=_env(world, cli_root))
    assert result.exit_code == 6
    assert result.output == "error: there is no champion to roll back\n"


def test_settle_makes_the_champion_stable_or_says_there_is_none(
    world, cli_root: Path, tmp_path: Path
) -> None:
    """After a canary went live, `stable` is the champion too (what shadow or canary mode then serves)."""
    env = _env(world, tmp_path)
    none = CliRunner().invoke(cli_promote.app, ["settle"], env=env)
    assert none.exit_code == 6
    assert none.output.startswith("error: no champion in ")
    assert len(none.output.splitlines()) == 1
    models = tmp_path / "models"
    shutil.copytree(cli_root / "models" / "versions", models / "versions")
    write_pointer(models, "champion", "1")
    settled = CliRunner().invoke(cli_promote.app, ["settle"], env=env)
    assert settled.exit_code == 0, settled.output
    assert settled.output == "stable is now version 1, the champion\n"
    assert read_pointer(models, "stable") == "1"


def test_an_insane_frame_stops_before_training(world, tmp_path: Path) -> None:
    config = tmp_path / "odd.yaml"
    yaml, check = INSANE_LABEL
    config.write_text(yaml)
    result = CliRunner().invoke(
        cli_train.app, ["run", "--rows", "500", "--config", str(config)], env=_env(world, tmp_path)
    )
    assert result.exit_code == 2, result.output
    assert f"training frame failed validation: {check}=" in result.output
    assert not (tmp_path / "mlflow").exists()


def test_missing_data_says_how_to_generate_it(tmp_path: Path) -> None:
    """Through the real console script: one line on stderr, no traceback, non-zero exit."""
    script = Path(sys.executable).parent / "steelthread-train"
    result = subprocess.run(
        [str(script), "run", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: no generated data in {tmp_path / 'data'}: run `steelthread-data generate --out "
        f"{tmp_path / 'data'}` (or `steelthread-train run --generate`)"
    )
    assert "Traceback" not in result.stdout + result.stderr


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "steelthread-train"
    result = subprocess.run(
        [str(script), "run", "--rows", "ten"], capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("error: Invalid value for '--rows'")
    assert result.stderr.count("\n") == 1
