"""Every workflow and composite action validates against the published GitHub schemas (offline copies
shipped with check-jsonschema), and the validator does reject a broken file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")
EXPECTED_WORKFLOWS = {"ci.yml", "train.yml", "promote.yml", "rollback.yml", "monitor.yml", "infra.yml"}


def _validate(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    assert CHECK_JSONSCHEMA.exists(), f"check-jsonschema not found at {CHECK_JSONSCHEMA}: run `make setup`"
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_six_workflows_of_the_path_to_production_exist(all_workflow_paths: list[Path]) -> None:
    assert {p.name for p in all_workflow_paths} >= EXPECTED_WORKFLOWS


def test_every_workflow_matches_the_github_workflow_schema(all_workflow_paths: list[Path]) -> None:
    # One validator run for all files: check-jsonschema names each failing file in its output.
    assert all_workflow_paths
    result = _validate("vendor.github-workflows", *all_workflow_paths)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_composite_action_matches_the_github_action_schema(all_action_paths: list[Path]) -> None:
    assert all_action_paths
    result = _validate("vendor.github-actions", *all_action_paths)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dependabot_config_matches_its_schema() -> None:
    path = Path(__file__).resolve().parents[2] / ".github" / "dependabot.yml"
    result = _validate("vendor.dependabot", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    stepz: []\n", encoding="utf-8")
    result = _validate("vendor.github-workflows", broken)
    assert result.returncode != 0
    assert "stepz" in result.stdout + result.stderr or "steps" in result.stdout + result.stderr
