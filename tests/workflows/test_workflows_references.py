"""Everything a workflow names exists: `make` targets in the Makefile, console scripts with the
subcommands and options used, scripts and paths in the repository, and the runbooks alert issues
point to. A renamed target or path fails here, not in the middle of a production deployment."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any


def makefile_targets(makefile: Path) -> set[str]:
    """Rules that do something, from make's own database (includes and variables resolved by make).

    A name that is only listed in `.PHONY` is in the database too, but `make name` would then do nothing
    and succeed, so a target counts only with a recipe or prerequisites.
    """
    make = shutil.which("make")
    assert make, "GNU make is not installed"
    result = subprocess.run(
        [make, "-pRrq", "-f", str(makefile), ":"],
        cwd=makefile.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    targets: set[str] = set()
    lines = result.stdout.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^([A-Za-z0-9][^$#/\t=:%]*):(?!=)(?P<prereqs>.*)$", line)
        if not match or (i > 0 and lines[i - 1] == "# Not a target:"):
            continue
        block = []
        for following in lines[i + 1 :]:
            if not following:
                break
            block.append(following)
        has_recipe = any(b.startswith("\t") for b in block)
        if match["prereqs"].strip() or has_recipe:
            targets.update(match[1].split())
    return targets


def test_makefile_parser_finds_real_rules_only(tmp_path: Path) -> None:
    makefile = tmp_path / "Makefile"
    makefile.write_text(
        ".PHONY: lint test data\nX := 1\nlint:\n\t@echo lint\ntest: lint\n\t@echo test\n%.o: %.c\n\tcc $<\n",
        encoding="utf-8",
    )
    assert {"lint", "test"} <= makefile_targets(makefile)
    assert "X" not in makefile_targets(makefile)
    assert "data" not in makefile_targets(makefile), "a name only listed in .PHONY is no rule"


def test_workflows_use_only_the_agreed_make_targets(make_targets_by_use: dict[str, list[str]]) -> None:
    agreed = {
        "help",
        "setup",
        "demo",
        "test",
        "lint",
        "typecheck",
        "fmt",
        "serve",
        "bench",
        "bench-small",
        "data",
        "train",
        "promote",
        "rollback",
        "audit",
        "monitor",
        "openapi",
        "openapi-check",
        "images",
        "stack-up",
        "stack-down",
    }
    used = make_targets_by_use
    assert {"setup", "lint", "typecheck", "test", "openapi-check", "images", "data", "train"} <= set(used)
    assert set(used) <= agreed, sorted(set(used) - agreed)


def test_make_target_exists_in_the_makefile(
    make_target: str, make_targets_by_use: dict[str, list[str]], repo_root: Path
) -> None:
    target = make_target
    makefile = repo_root / "Makefile"
    assert makefile.exists(), "the Makefile is missing: the workflows call `make` targets"
    assert target in makefile_targets(makefile), (
        f"`make {target}` is used by {sorted(set(make_targets_by_use[target]))}, the Makefile lacks it"
    )


def test_the_workflows_call_the_clis_of_the_path_to_production(all_cli_calls: list[Any]) -> None:
    assert {c[0] for c in all_cli_calls} >= {"steelthread-promote", "steelthread-monitor"}


def test_cli_subcommand_and_options_exist(cli_call: Any, declared_console_scripts: dict[str, str]) -> None:
    cli, sub, options, where = cli_call
    assert cli in declared_console_scripts, (
        f"{where} calls {cli}, which no workspace member declares in [project.scripts]"
    )
    executable = Path(sys.executable).with_name(cli)
    assert executable.exists(), f"{cli} is declared but not installed: run `make setup`"
    result = subprocess.run(
        [str(executable), *([sub] if sub else []), "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
        env={"NO_COLOR": "1", "COLUMNS": "200", "PATH": str(executable.parent)},
    )
    assert result.returncode == 0, f"`{cli} {sub or ''} --help` failed: {result.stderr[-500:]}"
    for option in options:
        assert option in result.stdout, f"{where}: `{cli} {sub or ''}` has no option {option}"


def test_path_finder_sees_the_paths_we_know_are_named(all_paths_named: list[tuple[str, str]]) -> None:
    paths = {p for p, _ in all_paths_named}
    assert ".github/scripts/smoke_check.py" in paths
    assert "infra/terraform/env" in paths
    assert "infra/terraform/env/../compliance" in paths


def test_named_path_exists(named_path: tuple[str, str], repo_root: Path) -> None:
    path, where = named_path
    matches = list(repo_root.glob(path)) if "*" in path else [repo_root / path]
    assert matches, f"{where} names {path}, which matches nothing"
    assert all(m.exists() for m in matches), f"{where} names {path}, which does not exist"


def test_every_stage_the_infra_workflow_can_plan_has_its_backend_and_variables(
    repo_root: Path, workflows: dict[str, dict[str, Any]]
) -> None:
    stacks = workflows["infra.yml"]["jobs"]["plan"]["strategy"]["matrix"]["stack"]
    assert stacks == ["cpu", "gpu"]
    root = repo_root / "infra" / "terraform" / "env"
    missing = [
        f"infra/terraform/env/{name}"
        for stack in stacks
        for stage in ("dev", "staging", "prod")
        for name in (f"backend/{stack}/{stage}.hcl", f"{stack}/{stage}.tfvars")
        if not (root / name).is_file()
    ]
    assert not missing


def test_infra_workflow_plans_each_stack_from_the_one_root_with_its_own_files(
    workflows: dict[str, dict[str, Any]],
) -> None:
    """Both stacks come from infra/terraform/env; only the stack's tfvars, backend and compliance folder differ."""
    for job_id in ("plan", "apply"):
        job = workflows["infra.yml"]["jobs"][job_id]
        assert job["defaults"]["run"]["working-directory"] == "infra/terraform/env"
        assert job["env"]["STACK"] == "${{ matrix.stack }}"
    runs = "\n".join(str(step.get("run", "")) for step in workflows["infra.yml"]["jobs"]["plan"]["steps"])
    assert '--var-file "$STACK/$STAGE.tfvars"' in runs, "checkov must see the stack's toggle"
    assert '-backend-config="backend/$STACK/$STAGE.hcl"' in runs
    assert '-var-file="$STACK/$STAGE.tfvars"' in runs
    assert 'compliance "../compliance/$STACK"' in runs
