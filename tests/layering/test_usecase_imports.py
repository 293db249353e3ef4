"""Use cases are reached only through the registry, for every folder under usecases/ (a fork's included).

The plumbing (packages/*, apps/*, examples/*) never imports a use-case package: the registry
(`steelthread_contracts.usecase`) loads the one STEELTHREAD_USECASE names by entry point, so a fork adds its
folder and edits nothing here. A use case imports only `steelthread_contracts` of ours, its API. Use-case
packages are found from the folders, not from a list, which is why this is a test and not an import-linter
contract (those name their packages in pyproject.toml, one more file a fork would have to edit).
"""

from __future__ import annotations

from pathlib import Path

from layering.test_declared_imports import imports

from helpers.workspace import ROOT, members

USECASES = [m for m in members() if m.folder.parent == ROOT / "usecases"]
PLUMBING = [m for m in members() if m not in USECASES]
USECASE_MODULES = {module for m in USECASES for module in m.modules}
OURS = {module for m in members() for module in m.modules}


def _imports_of(folder: Path) -> dict[str, list[str]]:
    return dict(imports(folder / "src"))


def test_every_use_case_folder_is_a_member_with_a_package() -> None:
    folders = sorted(p.parent for p in (ROOT / "usecases").glob("*/pyproject.toml"))
    assert [m.folder for m in USECASES] == folders
    assert all(m.modules for m in USECASES), "a use case ships one import package under src/"
    assert len(USECASES) >= 2


def test_the_plumbing_never_imports_a_use_case() -> None:
    hits = [
        f"{member.distribution}: {module} at {', '.join(where[:3])}"
        for member in PLUMBING
        for module, where in _imports_of(member.folder).items()
        if module.split(".")[0] in USECASE_MODULES
    ]
    assert not hits, "\n".join(hits)


def test_a_use_case_imports_only_the_contracts_of_ours() -> None:
    hits = [
        f"{member.distribution}: {module} at {', '.join(where[:3])}"
        for member in USECASES
        for module, where in _imports_of(member.folder).items()
        if module.split(".")[0] in OURS - {"steelthread_contracts", *member.modules}
    ]
    assert not hits, "\n".join(hits)
