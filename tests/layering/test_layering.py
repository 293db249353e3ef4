"""Layering is enforced, not hoped for. Packages (contracts, features, training) never import apps (serving,
monitoring, batch) or the consumer example; contracts import no other steelthread package; features never
import training; apps never import one another; serving never imports Feast, pandas, pyarrow, MLflow,
Evidently, LightGBM, scikit-learn or training, directly or through a module it imports.

The contracts live in pyproject.toml under [tool.importlinter] and `lint-imports` checks them (here and in
`make lint`). Each workspace member installs and imports alone: CI's `members` job runs
`uv sync --locked --package <member>` and `.github/scripts/import_member.py` for every member listed here.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from helpers.workspace import ROOT, Member, members, read_toml

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
SERVING_NEVER_IMPORTS = {
    "feast",
    "pandas",
    "mlflow",
    "evidently",
    "lightgbm",
    "sklearn",
    "steelthread_training",
}
PACKAGES = {"steelthread_contracts", "steelthread_features", "steelthread_training"}
APPS = {"steelthread_serving", "steelthread_monitoring", "steelthread_batch", "steelthread_consumer_example"}


def _lint_imports(cwd: Path, *args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS.exists(), (
        f"{LINT_IMPORTS} is missing: import-linter is in the dev group; `make setup`"
    )
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )


def _contracts() -> dict[str, dict[str, Any]]:
    config = read_toml(ROOT / "pyproject.toml")["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def test_every_layering_contract_is_kept() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in result.stdout, result.stdout


def test_the_contracts_cover_every_member_and_the_rules_of_the_issue() -> None:
    config = read_toml(ROOT / "pyproject.toml")["tool"]["importlinter"]
    assert set(config["root_packages"]) == {module for m in _plumbing() for module in m.modules}
    assert config["include_external_packages"] is True, "without it feast, pandas... are not in the graph"
    contracts = _contracts()
    # Forbidden contracts must follow indirect imports (their default); one that allows them checks little.
    assert not [c for c in contracts.values() if c.get("allow_indirect_imports")]

    packages = contracts["packages-never-import-apps"]
    assert (set(packages["source_modules"]), set(packages["forbidden_modules"])) == (PACKAGES, APPS)

    alone = contracts["contracts-import-no-steelthread-package"]
    assert alone["source_modules"] == ["steelthread_contracts"]
    assert set(alone["forbidden_modules"]) == set(config["root_packages"]) - {"steelthread_contracts"}

    assert set(contracts["apps-are-independent"]["modules"]) == APPS

    serving = contracts["serving-stays-light"]
    assert serving["source_modules"] == ["steelthread_serving"]
    assert set(serving["forbidden_modules"]) >= SERVING_NEVER_IMPORTS
    # Each ignored import is one edge, explained in pyproject.toml; none may open serving itself.
    assert all(not i.startswith("steelthread_serving") for i in serving.get("ignore_imports", []))


def test_lint_imports_breaks_on_an_indirect_import_inside_a_function(tmp_path: Path) -> None:
    """The behaviour the contracts rely on: a lazy import two modules away still breaks a forbidden
    contract, and a third-party module can be forbidden."""
    for package, body in {
        "toyapp": "from toylib import helpers\n",
        "toylib": "",
    }.items():
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(body, encoding="utf-8")
    (tmp_path / "toylib" / "helpers.py").write_text("def load():\n    import yaml\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        "[tool.importlinter]\n"
        'root_packages = ["toyapp", "toylib"]\n'
        "include_external_packages = true\n"
        "[[tool.importlinter.contracts]]\n"
        'name = "toyapp stays light"\n'
        'type = "forbidden"\n'
        'source_modules = ["toyapp"]\n'
        'forbidden_modules = ["yaml"]\n',
        encoding="utf-8",
    )
    result = _lint_imports(tmp_path, pythonpath=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "toyapp is not allowed to import yaml" in result.stdout
    assert "toylib.helpers -> yaml (l.2)" in result.stdout
    assert "Contracts: 0 kept, 1 broken." in result.stdout


def test_ci_installs_and_imports_every_member_alone() -> None:
    ci = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    job = ci["jobs"]["members"]
    rows = job["strategy"]["matrix"]["include"]
    assert {(r["member"], r["module"]) for r in rows} == {
        (m.distribution, module) for m in _plumbing() for module in m.modules
    }
    tests = {r["member"]: r["tests"] for r in rows}
    assert tests == {
        m.distribution: (m.folder / "tests").relative_to(ROOT).as_posix()
        if (m.folder / "tests").is_dir()
        else ""
        for m in _plumbing()
    }, "a member's own tests/ folder runs in its own environment"
    scripts = "\n".join(step.get("run", "") for step in job["steps"])
    assert 'uv sync --locked --package "$MEMBER"' in scripts
    assert ".github/scripts/import_member.py" in scripts
    assert "--all-packages" not in scripts
    assert job["env"]["UV_PROJECT_ENVIRONMENT"] != ".venv", "a fresh environment, not the workspace's"
    # Use cases are found from their folders, so a fork's new one is installed alone with no edit here.
    usecases = ci["jobs"]["usecases"]
    loop = "\n".join(step.get("run", "") for step in usecases["steps"])
    assert "for folder in usecases/*/" in loop
    assert 'uv sync --locked --package "$name"' in loop
    assert ".github/scripts/import_member.py" in loop
    assert usecases["env"]["UV_PROJECT_ENVIRONMENT"] != ".venv"


def _plumbing() -> list[Member]:
    """Every member but the use cases (those are found from usecases/*, see test_usecase_imports.py)."""
    return [m for m in members() if m.folder.parent != ROOT / "usecases"]


def _import_member() -> ModuleType:
    name = "steelthread_workflow_script_import_member"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / ".github" / "scripts" / "import_member.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_import_member_names_the_module_whose_import_is_missing(tmp_path: Path) -> None:
    package = tmp_path / "toymember"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "fine.py").write_text("import json\n", encoding="utf-8")
    (package / "sub" / "__init__.py").write_text("", encoding="utf-8")
    (package / "sub" / "broken.py").write_text("import not_installed_anywhere\n", encoding="utf-8")
    (package / "__main__.py").write_text("raise SystemExit('importing __main__ runs the CLI')\n")
    result = subprocess.run(
        [sys.executable, str(ROOT / ".github" / "scripts" / "import_member.py"), "toymember"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: toymember.sub.broken: ModuleNotFoundError: No module named 'not_installed_anywhere'"
    ]
    assert "imported 3 modules of toymember; 1 failed" in result.stdout


def test_import_member_imports_every_module_of_a_member() -> None:
    imported, failures = _import_member().import_all(["steelthread_contracts"])
    assert failures == []
    assert imported[0] == "steelthread_contracts"
    assert len(imported) == len(list((ROOT / "packages/contracts/src/steelthread_contracts").glob("*.py")))
