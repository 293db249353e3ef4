"""Our own rules for the workflows, beyond what the schema and actionlint check: pinned actions,
least-privilege permissions, OIDC only, one deployment per environment at a time, consistent
environment names, and no untrusted expression pasted into a shell script."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*))?$")
PINNED = re.compile(r"^(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40})$")
VERSION_COMMENT = re.compile(r"^v\d+\.\d+\.\d+$")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
# Contexts whose values an outsider or a dispatcher controls; they go through `env:`, never into a script.
UNTRUSTED = re.compile(r"\b(github\.event\.|github\.head_ref|inputs\.|steps\.[\w-]+\.outputs\.)")

ENVIRONMENTS = {"staging", "production", "production-abort", "infra-cpu", "infra-gpu"}
DEPLOY_WORKFLOWS = {"promote.yml", "rollback.yml"}


def _uses_lines(path: Path) -> list[tuple[int, str, str | None]]:
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = USES_LINE.match(line)
        if match:
            out.append((number, match["ref"], match["comment"]))
    return out


def _all_uses_files(all_workflow_paths: list[Path], all_action_paths: list[Path]) -> list[Path]:
    return [*all_workflow_paths, *all_action_paths]


def test_every_third_party_action_is_pinned_to_a_commit_with_its_version(
    all_workflow_paths: list[Path], all_action_paths: list[Path]
) -> None:
    problems = []
    for path in _all_uses_files(all_workflow_paths, all_action_paths):
        for number, ref, comment in _uses_lines(path):
            if ref.startswith("./"):
                continue
            if not PINNED.match(ref):
                problems.append(f"{path.name}:{number}: {ref} is not pinned to a 40-hex commit SHA")
            elif not (comment and VERSION_COMMENT.match(comment.strip())):
                problems.append(f"{path.name}:{number}: {ref} lacks a '# vX.Y.Z' comment")
    assert not problems, "\n".join(problems)


def test_one_action_is_pinned_to_one_commit_everywhere(
    all_workflow_paths: list[Path], all_action_paths: list[Path]
) -> None:
    pins: dict[str, set[str]] = defaultdict(set)
    for path in _all_uses_files(all_workflow_paths, all_action_paths):
        for _, ref, comment in _uses_lines(path):
            if not ref.startswith("./"):
                action, _, sha = ref.partition("@")
                pins[action].add(f"{sha} {comment}")
    assert pins, "no third-party action found at all: the parser is broken"
    assert {a: p for a, p in pins.items() if len(p) > 1} == {}


def test_local_actions_and_reusable_workflows_exist(
    repo_root: Path, all_workflow_paths: list[Path], all_action_paths: list[Path]
) -> None:
    missing = [
        f"{path.name}:{number}: {ref}"
        for path in _all_uses_files(all_workflow_paths, all_action_paths)
        for number, ref, _ in _uses_lines(path)
        if ref.startswith("./") and not (repo_root / ref).exists()
    ]
    assert not missing


def test_top_level_permissions_are_read_only(workflows: dict[str, dict[str, Any]]) -> None:
    assert workflows
    for name, doc in workflows.items():
        assert doc.get("permissions") == {"contents": "read"}, f"{name}: top-level permissions"


def test_write_permissions_are_granted_per_job_and_only_where_used(
    workflows: dict[str, dict[str, Any]],
) -> None:
    for name, doc in workflows.items():
        for job_id, job in doc["jobs"].items():
            perms = job.get("permissions") or {}
            text = repr(job)
            if perms.get("id-token") == "write":
                assert "configure-aws-credentials" in text or "_deploy.yml" in text, (
                    f"{name}:{job_id} asks for an OIDC token it never uses"
                )
            if "configure-aws-credentials" in text or "_deploy.yml" in text:
                assert perms.get("id-token") == "write", f"{name}:{job_id} needs id-token: write for OIDC"
            if perms.get("issues") == "write":
                assert "github-script" in text, f"{name}:{job_id} may write issues but never does"
            assert set(perms.values()) <= {"read", "write", "none"}
            assert "write-all" not in text


def test_cloud_access_uses_oidc_roles_and_no_long_lived_keys(
    all_workflow_paths: list[Path], workflows: dict[str, dict[str, Any]]
) -> None:
    for path in all_workflow_paths:
        text = path.read_text(encoding="utf-8")
        assert "aws-access-key-id" not in text, path.name
        assert "AWS_SECRET_ACCESS_KEY" not in text, path.name
    aws_steps = [
        step
        for doc in workflows.values()
        for job in doc["jobs"].values()
        for step in job.get("steps") or []
        if "configure-aws-credentials" in str(step.get("uses", ""))
    ]
    assert aws_steps, "no OIDC step found: the check would pass vacuously"
    for step in aws_steps:
        assert set(step["with"]) == {"role-to-assume", "aws-region"}, step


def test_every_deployment_job_has_an_environment_and_a_concurrency_group(
    workflows: dict[str, dict[str, Any]],
) -> None:
    deploy_jobs = 0
    for name, doc in workflows.items():
        for job_id, job in doc["jobs"].items():
            if "environment" not in job:
                continue
            deploy_jobs += 1
            group = (job.get("concurrency") or {}).get("group", "")
            assert group, f"{name}:{job_id} deploys to an environment without a concurrency group"
            assert (job.get("concurrency") or {}).get("cancel-in-progress") is not True, (
                f"{name}:{job_id} would cancel a deployment half-way"
            )
    assert deploy_jobs >= 2


def _environment_names(workflows: dict[str, dict[str, Any]]) -> set[str]:
    names: set[str] = set()
    for doc in workflows.values():
        for job in doc["jobs"].values():
            env = job.get("environment")
            if isinstance(env, dict):
                env = env.get("name")
            if env is not None and "${{" not in str(env):
                names.add(str(env))
            elif env is not None and "matrix.stack" in str(env):
                names.update(
                    str(env).replace("${{ matrix.stack }}", v) for v in job["strategy"]["matrix"]["stack"]
                )
            for key in ("environment", "github-environment"):
                with_env = (job.get("with") or {}).get(key)
                if with_env is not None:
                    names.add(str(with_env))
    return names


def test_environment_names_are_the_documented_ones(
    workflows: dict[str, dict[str, Any]], repo_root: Path
) -> None:
    names = _environment_names(workflows)
    assert names == ENVIRONMENTS
    operations = (repo_root / "docs" / "operations.md").read_text(encoding="utf-8")
    for env in sorted(ENVIRONMENTS):
        assert f"`{env}`" in operations, f"docs/operations.md does not document environment {env}"


def test_reusable_deploy_workflow_sets_its_environment_from_its_input(
    workflows: dict[str, dict[str, Any]],
) -> None:
    job = workflows["_deploy.yml"]["jobs"]["deploy"]
    assert job["environment"]["name"] == "${{ inputs.github-environment || inputs.environment }}"
    assert job["concurrency"]["group"] == "deploy-${{ inputs.environment }}"
    assert workflows["_deploy.yml"]["on"]["workflow_call"]["inputs"]["github-environment"]["default"] == ""


def test_aborting_a_failed_canary_waits_for_no_approval(
    workflows: dict[str, dict[str, Any]], repo_root: Path
) -> None:
    """The abort job runs under `production-abort` (production's settings, no required reviewers), still in
    production's concurrency group; every other production job keeps the reviewers."""
    jobs = workflows["promote.yml"]["jobs"]
    abort = jobs["abort-canary"]["with"]
    assert (abort["environment"], abort["github-environment"]) == ("production", "production-abort")
    for workflow in sorted(DEPLOY_WORKFLOWS):
        for job_id, job in workflows[workflow]["jobs"].items():
            if job_id != "abort-canary":
                assert "github-environment" not in (job.get("with") or {}), f"{workflow}:{job_id}"
    rows = {
        line.split("|")[1].strip(): line
        for line in (repo_root / "docs" / "operations.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    }
    assert "none required" in rows["`production-abort`"]
    assert "required reviewers" in rows["`production`"]


@pytest.mark.parametrize("workflow", sorted(DEPLOY_WORKFLOWS))
def test_production_is_reached_only_after_an_input_check(
    workflows: dict[str, dict[str, Any]], workflow: str
) -> None:
    jobs = workflows[workflow]["jobs"]
    for job_id, job in jobs.items():
        if (job.get("with") or {}).get("environment") == "production" and job_id != "abort-canary":
            chain, seen = [job_id], set()
            while chain:
                current = chain.pop()
                seen.add(current)
                needs = jobs[current].get("needs", [])
                chain.extend([needs] if isinstance(needs, str) else needs)
            assert "check-inputs" in seen, f"{workflow}:{job_id} can run without the input check"


def test_promotion_goes_staging_then_canary_then_live(workflows: dict[str, dict[str, Any]]) -> None:
    jobs = workflows["promote.yml"]["jobs"]
    assert jobs["staging"]["with"]["alias-move"] == "staging"
    assert jobs["staging"]["with"]["mode"] == "shadow"
    assert jobs["canary"]["needs"] == "staging"
    assert jobs["canary"]["with"] | {"environment": "production"} == jobs["canary"]["with"]
    assert (jobs["canary"]["with"]["alias-move"], jobs["canary"]["with"]["mode"]) == ("champion", "canary")
    assert jobs["canary"]["with"]["slo-check"] is True
    assert jobs["live"]["needs"] == "canary"
    assert jobs["live"]["with"]["mode"] == "live"
    assert jobs["abort-canary"]["with"]["alias-move"] == "rollback"


def test_a_failed_canary_is_aborted_to_stable_only_once_its_alias_moved(
    workflows: dict[str, dict[str, Any]],
) -> None:
    """The canary is judged against stable per version; a failure after the champion moved serves stable to
    everyone at once (fraction 0), and only then is the champion rolled back; a refused move rolls back
    nothing (the previous champion stays)."""
    steps = workflows["_deploy.yml"]["jobs"]["deploy"]["steps"]
    names = [step.get("name") for step in steps]
    check = steps[names.index("Canary against stable")]
    abort = steps[names.index("Abort the canary (every customer to stable)")]
    assert names.index("SLO check") < names.index("Canary against stable") < names.index(abort["name"])
    assert ".github/scripts/canary_check.py" in check["run"]
    assert '--canary-version "$VERSION"' in check["run"]
    assert abort["if"] == "failure() && inputs.mode == 'canary' && steps.move.outputs.moved == 'true'"
    # the canary is also a planned experiment: planned before the observation, stepped after it
    plan = steps[names.index("Plan the canary as an experiment")]
    step = steps[names.index("Canary step (sample ratio, guardrails, always-valid test)")]
    assert (
        names.index(plan["name"])
        < names.index("Observe")
        < names.index(step["name"])
        < names.index(abort["name"])
    )
    assert "steelthread-experiment plan" in plan["run"]
    assert "steelthread-experiment step" in step["run"]
    assert "--final" in step["run"]
    assert "--mode canary --canary-fraction 0" in abort["run"]
    assert "--check-flags" in abort["run"]
    settle = steps[names.index("Settle stable")]
    assert settle["if"] == "inputs.mode == 'live'"
    assert "steelthread-promote settle" in settle["run"]
    abort_job = workflows["promote.yml"]["jobs"]["abort-canary"]
    assert "needs.canary.outputs.alias-moved == 'true'" in abort_job["if"]


def test_untrusted_values_reach_scripts_only_through_env(all_run_steps: list[Any]) -> None:
    assert all_run_steps
    problems = [
        f"{s.file.name}:{s.job}:{s.name}: ${{{{{expr.strip()}}}}}"
        for s in all_run_steps
        for expr in EXPRESSION.findall(s.script)
        if UNTRUSTED.search(expr)
    ]
    assert not problems, "\n".join(problems)


def _declared_inputs(doc: dict[str, Any]) -> set[str]:
    on = doc["on"] if isinstance(doc["on"], dict) else {}
    names: set[str] = set()
    for trigger in ("workflow_dispatch", "workflow_call"):
        names.update(((on.get(trigger) or {}).get("inputs") or {}).keys())
    return names


def test_expressions_name_only_declared_inputs_and_needed_jobs(
    all_workflow_paths: list[Path], workflows: dict[str, dict[str, Any]]
) -> None:
    problems = []
    for path in all_workflow_paths:
        doc = workflows[path.name]
        inputs = _declared_inputs(doc)
        text = path.read_text(encoding="utf-8")
        for expr in EXPRESSION.findall(text):
            for used in re.findall(r"\binputs\.([\w-]+)", expr):
                if used not in inputs:
                    problems.append(f"{path.name}: inputs.{used} is not declared")
        for job_id, job in doc["jobs"].items():
            needs = job.get("needs", [])
            needs = {needs} if isinstance(needs, str) else set(needs)
            for expr in EXPRESSION.findall(repr(job)):
                for used in re.findall(r"\bneeds\.([\w-]+)", expr):
                    if used not in needs:
                        problems.append(f"{path.name}:{job_id}: needs.{used} is not in needs")
    assert not problems, "\n".join(problems)


def test_callers_pass_only_inputs_the_reusable_workflow_declares(
    workflows: dict[str, dict[str, Any]],
) -> None:
    callee_inputs = workflows["_deploy.yml"]["on"]["workflow_call"]["inputs"]
    required = {k for k, v in callee_inputs.items() if v.get("required")}
    calls = 0
    for name, doc in workflows.items():
        for job_id, job in doc["jobs"].items():
            if job.get("uses") == "./.github/workflows/_deploy.yml":
                calls += 1
                given = set(job.get("with") or {})
                assert given <= set(callee_inputs), f"{name}:{job_id}: {given - set(callee_inputs)}"
                assert required <= given, f"{name}:{job_id} misses {required - given}"
                assert job["with"]["alias-move"] in {"none", "staging", "champion", "rollback"}
                assert job["with"]["mode"] in {"shadow", "canary", "live"}
    assert calls >= 5


def test_every_job_is_time_limited(workflows: dict[str, dict[str, Any]]) -> None:
    for name, doc in workflows.items():
        for job_id, job in doc["jobs"].items():
            if "uses" not in job:
                assert isinstance(job.get("timeout-minutes"), int), f"{name}:{job_id} has no timeout-minutes"


def test_checkout_never_keeps_the_token(workflows: dict[str, dict[str, Any]]) -> None:
    checkouts = [
        step
        for doc in workflows.values()
        for job in doc["jobs"].values()
        for step in job.get("steps") or []
        if str(step.get("uses", "")).startswith("actions/checkout@")
    ]
    assert checkouts
    assert all((s.get("with") or {}).get("persist-credentials") is False for s in checkouts)
