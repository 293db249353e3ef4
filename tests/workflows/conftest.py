"""Shared loading of the workflow files, so every check reads them the same way."""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
ACTIONS_DIR = ROOT / ".github" / "actions"


def workflow_paths() -> list[Path]:
    return sorted([*WORKFLOW_DIR.glob("*.yml"), *WORKFLOW_DIR.glob("*.yaml")])


def action_paths() -> list[Path]:
    return sorted(ACTIONS_DIR.glob("*/action.yml"))


def load_yaml(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), f"{path} is not a YAML mapping"
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


@dataclass(frozen=True)
class RunStep:
    """One shell script in a workflow or composite action, with where it came from."""

    file: Path
    job: str
    name: str
    script: str
    env: dict[str, Any] = field(default_factory=dict)
    working_directory: str | None = None


def run_steps() -> list[RunStep]:
    steps: list[RunStep] = []
    for path in workflow_paths():
        doc = load_yaml(path)
        for job_id, job in (doc.get("jobs") or {}).items():
            default_wd = ((job.get("defaults") or {}).get("run") or {}).get("working-directory")
            for i, step in enumerate(job.get("steps") or []):
                if "run" in step:
                    steps.append(
                        RunStep(
                            path,
                            job_id,
                            step.get("name", f"step {i}"),
                            step["run"],
                            step.get("env") or {},
                            step.get("working-directory", default_wd),
                        )
                    )
    for path in action_paths():
        doc = load_yaml(path)
        for i, step in enumerate(doc["runs"].get("steps") or []):
            if "run" in step:
                steps.append(
                    RunStep(
                        path, "(composite)", step.get("name", f"step {i}"), step["run"], step.get("env") or {}
                    )
                )
    return steps


MAKE_CALL = re.compile(r"(?<![\w-])make\s+(?P<target>[a-z][\w-]*)")
CLI_NAMES = "data|features|train|promote|audit|serve|monitor|batch"
CLI_CALL = re.compile(
    rf"(?<![\w-])(?P<cli>steelthread-(?:{CLI_NAMES}))(?![\w-])" r"(?P<args>(?:[ \t]+[^\s;|&]+)*)"
)
REPO_PATH = re.compile(r"(?<![\w/$.-])(?P<path>(?:\.github|apps|packages|infra|docs|runbooks)/[\w./*-]+)")
RELATIVE_PATH = re.compile(r"(?<![\w/$-])(?P<path>\.\./[\w./-]*)")


def script_text(step: RunStep) -> str:
    return step.script.replace("\\\n", " ")


def make_targets_used() -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for step in run_steps():
        for match in MAKE_CALL.finditer(script_text(step)):
            used.setdefault(match["target"], []).append(f"{step.file.name}:{step.job}")
    return used


def console_scripts() -> dict[str, str]:
    scripts: dict[str, str] = {}
    for pyproject in [*ROOT.glob("packages/*/pyproject.toml"), *ROOT.glob("apps/*/pyproject.toml")]:
        doc = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        scripts.update(doc.get("project", {}).get("scripts", {}))
    return scripts


def cli_calls() -> list[tuple[str, str | None, tuple[str, ...], str]]:
    calls = []
    for step in run_steps():
        for match in CLI_CALL.finditer(script_text(step)):
            tokens = shlex.split(match["args"]) if match["args"].strip() else []
            sub = tokens[0] if tokens and not tokens[0].startswith("-") else None
            options = tuple(sorted({t.split("=")[0] for t in tokens if t.startswith("--")}))
            calls.append((match["cli"], sub, options, f"{step.file.name}:{step.job}"))
    return sorted(set(calls))


def paths_named() -> list[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for step in run_steps():
        script = script_text(step)
        for match in REPO_PATH.finditer(script):
            found.add((match["path"].rstrip("/."), f"{step.file.name}:{step.job}"))
        if step.working_directory:
            for match in RELATIVE_PATH.finditer(script):
                found.add((f"{step.working_directory}/{match['path']}", f"{step.file.name}:{step.job}"))
    for path in workflow_paths():
        doc = load_yaml(path)
        on: dict[str, Any] = doc["on"] if isinstance(doc["on"], dict) else {}
        for trigger in ("push", "pull_request"):
            for pattern in (on.get(trigger) or {}).get("paths", []):
                found.add((pattern.split("/**")[0], f"{path.name}:on.{trigger}.paths"))
        for job_id, job in doc["jobs"].items():
            wd = ((job.get("defaults") or {}).get("run") or {}).get("working-directory")
            if wd:
                found.add((wd, f"{path.name}:{job_id}"))
    expanded: set[tuple[str, str]] = set()
    for raw, where in found:
        if "${{ matrix.stack }}" in raw:
            expanded.update((raw.replace("${{ matrix.stack }}", stack), where) for stack in ("cpu", "gpu"))
        else:
            expanded.add((raw, where))
    return sorted(expanded)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "make_target" in metafunc.fixturenames:
        metafunc.parametrize("make_target", sorted(make_targets_used()))
    if "cli_call" in metafunc.fixturenames:
        calls = cli_calls()
        metafunc.parametrize("cli_call", calls, ids=[f"{c[0]} {c[1] or ''}".strip() for c in calls])
    if "named_path" in metafunc.fixturenames:
        named = paths_named()
        metafunc.parametrize("named_path", named, ids=[p for p, _ in named])


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def all_workflow_paths() -> list[Path]:
    return workflow_paths()


@pytest.fixture(scope="session")
def all_action_paths() -> list[Path]:
    return action_paths()


@pytest.fixture(scope="session")
def workflows() -> dict[str, dict[str, Any]]:
    """Parsed workflows by file name."""
    return {p.name: load_yaml(p) for p in workflow_paths()}


@pytest.fixture(scope="session")
def actions() -> dict[str, dict[str, Any]]:
    """Parsed composite actions by folder name."""
    return {p.parent.name: load_yaml(p) for p in action_paths()}


@pytest.fixture(scope="session")
def all_run_steps() -> list[RunStep]:
    return run_steps()


@pytest.fixture(scope="session")
def make_targets_by_use() -> dict[str, list[str]]:
    return make_targets_used()


@pytest.fixture(scope="session")
def declared_console_scripts() -> dict[str, str]:
    return console_scripts()


@pytest.fixture(scope="session")
def all_cli_calls() -> list[tuple[str, str | None, tuple[str, ...], str]]:
    return cli_calls()


@pytest.fixture(scope="session")
def all_paths_named() -> list[tuple[str, str]]:
    return paths_named()
