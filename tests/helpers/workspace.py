"""The uv workspace as the root pyproject.toml declares it: each member's folder, distribution name,
top-level import packages and declared requirements. Read from the files, so a new member is seen."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them: `PyYAML` and `pyyaml`, `ruamel_yaml` and `ruamel-yaml`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requirements: Iterable[str]) -> frozenset[str]:
    """The normalised distribution names of PEP 508 requirement strings (extras and markers dropped)."""
    names = set()
    for requirement in requirements:
        match = _NAME.match(requirement)
        assert match, f"not a requirement: {requirement!r}"
        names.add(normalise(match[1]))
    return frozenset(names)


def read_toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Member:
    folder: Path
    distribution: str
    modules: tuple[str, ...]
    requirements: frozenset[str]
    groups: frozenset[str]

    @property
    def relative(self) -> str:
        return (
            self.folder.relative_to(ROOT).as_posix() if self.folder.is_relative_to(ROOT) else str(self.folder)
        )


def load_member(folder: Path) -> Member:
    """One member: `[project] dependencies` plus every extra it declares are what its source may import;
    its own `[dependency-groups]` are added for its tests."""
    doc = read_toml(folder / "pyproject.toml")
    project = doc["project"]
    requirements = set(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements.update(extra)
    groups: set[str] = set()
    for group in doc.get("dependency-groups", {}).values():
        groups.update(r for r in group if isinstance(r, str))
    src = folder / "src"
    modules = (
        tuple(sorted(p.name for p in src.iterdir() if (p / "__init__.py").is_file())) if src.is_dir() else ()
    )
    return Member(
        folder=folder,
        distribution=normalise(project["name"]),
        modules=modules,
        requirements=requirement_names(requirements),
        groups=requirement_names(groups),
    )


def members() -> list[Member]:
    """Every workspace member, in the order the root pyproject.toml's globs list them."""
    root = read_toml(ROOT / "pyproject.toml")
    folders: list[Path] = []
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        folders.extend(sorted(p.parent for p in ROOT.glob(f"{pattern}/pyproject.toml")))
    return [load_member(folder) for folder in folders]


def dev_group() -> frozenset[str]:
    """The root `dev` dependency group: what every test may import besides the member's own requirements."""
    return requirement_names(read_toml(ROOT / "pyproject.toml")["dependency-groups"]["dev"])
