"""Shared fixtures of the offline infrastructure tests.

Terraform, Docker and a Kubernetes API are not available where these tests run, so the tests read the files
themselves: HCL through python-hcl2, YAML through PyYAML, and checkov once per Terraform stack.

There is one Terraform environment root, `infra/terraform/env`; a stack (cpu, gpu) is that root plus the stack's
`<stack>/<stage>.tfvars` (which sets `gpu_node_group_enabled`) and `backend/<stack>/<stage>.hcl`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from hcl2.api import loads as hcl_loads

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
TERRAFORM = INFRA / "terraform"
ENV_ROOT = TERRAFORM / "env"
MODULES = TERRAFORM / "modules"
STAGES = ("dev", "staging", "prod")


@dataclass(frozen=True)
class Stack:
    """One deployable stack: the shared environment root with the stack's variable and backend files."""

    name: str
    root: Path = ENV_ROOT

    @property
    def gpu(self) -> bool:
        return self.name == "gpu"

    def tfvars(self, stage: str) -> Path:
        return self.root / self.name / f"{stage}.tfvars"

    def backend(self, stage: str) -> Path:
        return self.root / "backend" / self.name / f"{stage}.hcl"


STACKS = {name: Stack(name) for name in ("cpu", "gpu")}


class Hcl:
    """Read HCL files the same way whichever `hcl2` distribution is installed.

    checkov depends on bc-python-hcl2 and the dev group on python-hcl2; both install the `hcl2` package, and
    they disagree on shape: bc-python-hcl2 wraps every attribute in a one-element list and leaves strings
    bare, python-hcl2 8 leaves attributes bare, keeps string quotes and marks blocks with `__is_block__`.
    Tests use `attr`/`blocks`/`labelled` so they never depend on which one won.
    """

    def __init__(self) -> None:
        self._cache: dict[Path, dict[str, Any]] = {}

    def load(self, path: Path) -> dict[str, Any]:
        if path not in self._cache:
            raw = hcl_loads(path.read_text())
            self._cache[path] = {"wrapped": BC_FLAVOUR, "doc": raw}
        return self._cache[path]

    def doc(self, path: Path) -> dict[str, Any]:
        return dict(self.load(path)["doc"])

    def is_wrapped(self, path: Path) -> bool:
        return bool(self.load(path)["wrapped"])

    def labelled(self, path: Path, kind: str) -> dict[str, dict[str, Any]]:
        """`variable "x" {}` → {"x": body}; `resource "t" "n" {}` → {"t.n": body}."""
        out: dict[str, dict[str, Any]] = {}
        for entry in self.doc(path).get(kind, []):
            for label, body in entry.items():
                name = unquote(label)
                if kind in {"resource", "data"}:
                    for inner_label, inner_body in body.items():
                        if not inner_label.startswith("__"):
                            out[f"{name}.{unquote(inner_label)}"] = inner_body
                else:
                    out[name] = body
        return out

    def attr(self, path: Path, body: dict[str, Any], name: str, default: Any = None) -> Any:
        if name not in body:
            return default
        value = body[name]
        if self.is_wrapped(path) and isinstance(value, list) and len(value) == 1:
            value = value[0]
        return clean(value)

    def blocks(self, body: dict[str, Any], name: str) -> list[dict[str, Any]]:
        value = body.get(name, [])
        items = value if isinstance(value, list) else [value]
        return [item for item in items if isinstance(item, dict)]

    def locals(self, path: Path) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for entry in self.doc(path).get("locals", []):
            for key in entry:
                if not key.startswith("__"):
                    merged[key] = self.attr(path, entry, key)
        return merged


# bc-python-hcl2 is versioned 0.x; python-hcl2 is 4.x and later.
BC_FLAVOUR = str(getattr(hcl2, "__version__", "0")).startswith("0.")


def unquote(text: str) -> str:
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text


def clean(value: Any) -> Any:
    if isinstance(value, str):
        return unquote(value)
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {unquote(k): clean(v) for k, v in value.items() if not k.startswith("__")}
    return value


@pytest.fixture(scope="session")
def hcl() -> Hcl:
    return Hcl()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def terraform_dir() -> Path:
    return TERRAFORM


@pytest.fixture(scope="session")
def env_root() -> Path:
    return ENV_ROOT


@pytest.fixture(scope="session")
def stacks() -> dict[str, Stack]:
    return dict(STACKS)


# checkov evaluates the root with the prod variables of a stack: the stage whose rules are strictest, and the
# one the infra workflow plans on every pull request.
CHECKOV_STAGE = "prod"


def checkov_command(stack: Stack) -> list[str]:
    """checkov over one stack, offline: no module download, no calls to the vendor's platform."""
    exe = shutil.which("checkov", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("checkov is not installed in the test environment (dev group): cannot scan Terraform")
    return [
        exe,
        "-d",
        str(stack.root),
        "--var-file",
        str(stack.tfvars(CHECKOV_STAGE)),
        "--framework",
        "terraform",
        "--compact",
        "-o",
        "json",
        "--download-external-modules",
        "false",
        "--skip-download",
    ]


def run_checkov(stacks: dict[str, Stack]) -> dict[str, dict[str, Any]]:
    """Scan all stacks concurrently (checkov is slow to start) and return each stack's terraform report."""
    procs = {
        name: subprocess.Popen(
            checkov_command(stack),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=stack.root,
        )
        for name, stack in stacks.items()
    }
    reports: dict[str, dict[str, Any]] = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        if proc.returncode not in (0, 1):
            pytest.fail(f"checkov crashed on the {name} stack (exit {proc.returncode}): {err[-2000:]}")
        parsed = json.loads(out)
        candidates = parsed if isinstance(parsed, list) else [parsed]
        (terraform,) = [r for r in candidates if r.get("check_type") == "terraform"]
        reports[name] = dict(terraform)
    return reports


@pytest.fixture(scope="session")
def checkov_reports() -> dict[str, dict[str, Any]]:
    return run_checkov(STACKS)


@pytest.fixture(scope="session")
def load_yaml_docs() -> Callable[[Path], list[dict[str, Any]]]:
    def load(path: Path) -> list[dict[str, Any]]:
        return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]

    return load
