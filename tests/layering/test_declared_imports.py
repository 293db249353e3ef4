"""A workspace member declares every distribution it imports; being installed by another member is not
enough. `uv sync --all-packages` puts everything in one environment, so an import a member forgot to declare
works here and breaks the day it is installed alone (batch's `onnx`, found only because training declares it).

Each member's `src/` may import the standard library, itself, and the distributions its `[project]`
dependencies and extras name; its `tests/` may also import the root `dev` group. Every import counts,
including those inside functions and under `TYPE_CHECKING` (an AST walk, nothing is imported). Import
names map to distributions with `importlib.metadata.packages_distributions()`; a transitive dependency does
not count. CI's `members` job then installs each member alone and imports it.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

import pytest

from helpers.workspace import Member, dev_group, load_member, members, normalise

MEMBERS = members()
WITH_TESTS = [m for m in MEMBERS if (m.folder / "tests").is_dir()]


@cache
def _installed() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


@cache
def _dist_has(dist: str, top: str, sub: str) -> bool:
    files = importlib.metadata.distribution(dist).files or []
    return any(len(f.parts) > 1 and f.parts[0] == top and f.parts[1].split(".")[0] == sub for f in files)


def first_party() -> dict[str, str]:
    """Top-level module -> workspace distribution (editable installs do not list their modules)."""
    return {module: m.distribution for m in MEMBERS for module in m.modules}


def providers(module: str, workspace: Mapping[str, str]) -> frozenset[str] | None:
    """The distributions that provide `module`; None for the standard library.

    A top-level name several distributions share (the `google` namespace) is narrowed to those that ship
    the second component (`google.protobuf` is protobuf's, not google-auth's).
    """
    parts = module.split(".")
    if parts[0] in sys.stdlib_module_names:
        return None
    if parts[0] in workspace:
        return frozenset({workspace[parts[0]]})
    candidates = _installed().get(parts[0], [])
    if len(candidates) > 1 and len(parts) > 1:
        candidates = [d for d in candidates if _dist_has(d, parts[0], parts[1])] or candidates
    return frozenset(normalise(d) for d in candidates)


def imports(folder: Path) -> dict[str, list[str]]:
    """Every absolute import under `folder`: dotted module -> `path:line` of each place it is imported."""
    found: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        where = path.relative_to(folder.parent).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name, []).append(f"{where}:{node.lineno}")
    return found


def local_modules(folder: Path) -> set[str]:
    """Modules a folder provides itself (a test importing a sibling module or package)."""
    return {p.stem for p in folder.glob("*.py")} | {p.name for p in folder.iterdir() if p.is_dir()}


def undeclared(folder: Path, declared: Iterable[str], workspace: Mapping[str, str]) -> list[str]:
    """One line per imported module that no declared distribution provides, naming where it is imported."""
    allowed = frozenset(declared)
    local = local_modules(folder)
    problems = []
    for module, where in sorted(imports(folder).items()):
        if module.split(".")[0] in local:
            continue
        provided_by = providers(module, workspace)
        if provided_by is None or provided_by & allowed:
            continue
        who = ", ".join(sorted(provided_by)) or "no installed distribution"
        problems.append(f"{module} (from {who}) at {', '.join(where[:3])}")
    return problems


def test_the_workspace_has_the_members_ci_installs_alone() -> None:
    plumbing = [m.distribution for m in MEMBERS if m.folder.parent.name != "usecases"]
    assert plumbing == [
        "steelthread-contracts",
        "steelthread-features",
        "steelthread-training",
        "steelthread-batch",
        "steelthread-monitoring",
        "steelthread-serving",
        "steelthread-consumer-example",
    ]
    usecases = {m.distribution for m in MEMBERS if m.folder.parent.name == "usecases"}
    assert {"steelthread-usecase-credit", "steelthread-usecase-delivery"} <= usecases
    assert all(m.modules for m in MEMBERS), "every member has an import package under src/"


@pytest.mark.parametrize("member", MEMBERS, ids=[m.distribution for m in MEMBERS])
def test_member_source_imports_only_what_the_member_declares(member: Member) -> None:
    declared = member.requirements | {member.distribution}
    problems = undeclared(member.folder / "src", declared, first_party())
    assert not problems, (
        f"{member.relative}/src imports distributions {member.relative}/pyproject.toml does not declare:\n"
        + "\n".join(problems)
    )


@pytest.mark.parametrize("member", WITH_TESTS, ids=[m.distribution for m in WITH_TESTS])
def test_member_tests_import_only_the_member_its_requirements_and_the_dev_group(member: Member) -> None:
    declared = member.requirements | member.groups | dev_group() | {member.distribution}
    problems = undeclared(member.folder / "tests", declared, first_party())
    assert not problems, (
        f"{member.relative}/tests import what neither the member nor the root dev group declares "
        "(tests that need another member belong in the root tests/):\n" + "\n".join(problems)
    )


def test_checker_finds_undeclared_imports_also_inside_functions_and_type_checking(tmp_path: Path) -> None:
    member = tmp_path / "toy"
    (member / "src" / "toy").mkdir(parents=True)
    (member / "tests").mkdir()
    (member / "pyproject.toml").write_text(
        '[project]\nname = "toy"\nversion = "0"\ndependencies = ["httpx>=0.28", "steelthread-contracts"]\n'
        '[project.optional-dependencies]\nfast = ["orjson>=3"]\n',
        encoding="utf-8",
    )
    (member / "src" / "toy" / "__init__.py").write_text(
        "from __future__ import annotations\n"
        "import json\n"
        "from typing import TYPE_CHECKING\n"
        "import httpx\n"
        "import orjson\n"
        "from steelthread_contracts import PredictionRequest\n"
        "from . import sibling\n"
        "from toy import sibling as again\n"
        "if TYPE_CHECKING:\n"
        "    import numpy\n"
        "def later():\n"
        "    import yaml\n"
        "    from steelthread_serving.settings import ServingSettings\n",
        encoding="utf-8",
    )
    (member / "tests" / "test_toy.py").write_text(
        "import pytest\nfrom helpers.serving import API_KEY\nimport toy\n", encoding="utf-8"
    )
    toy = load_member(member)
    workspace = first_party() | {"toy": "toy"}
    assert toy.requirements == {"httpx", "steelthread-contracts", "orjson"}

    source = undeclared(member / "src", toy.requirements | {"toy"}, workspace)
    assert [line.split(" (")[0] for line in source] == ["numpy", "steelthread_serving.settings", "yaml"]
    assert source[2] == "yaml (from pyyaml) at src/toy/__init__.py:12"

    tests = undeclared(member / "tests", toy.requirements | dev_group() | {"toy"}, workspace)
    assert tests == ["helpers.serving (from no installed distribution) at tests/test_toy.py:2"]


def test_a_shared_namespace_maps_to_the_distribution_that_ships_the_module() -> None:
    assert providers("google.protobuf.timestamp_pb2", first_party()) == frozenset({"protobuf"})
    assert providers("sklearn.linear_model", first_party()) == frozenset({"scikit-learn"})
    assert providers("steelthread_features.online", first_party()) == frozenset({"steelthread-features"})
    assert providers("importlib.metadata", first_party()) is None


def test_batch_declares_onnx_the_import_the_shared_environment_hid() -> None:
    batch = next(m for m in MEMBERS if m.distribution == "steelthread-batch")
    assert "onnx" in imports(batch.folder / "src")
    assert "onnx" in batch.requirements
