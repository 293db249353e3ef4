"""The documentation stays true to the repository: the configuration page matches the settings objects,
every relative link resolves, every file the fork guide names exists, and the ADRs keep their shape."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from steelthread_contracts.usecase import DEFAULT_USECASE, USECASE_ENV

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
LINK = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s#]+)(?:#[^)]*)?\)")
MARKDOWN = sorted([*DOCS.glob("*.md"), *DOCS.glob("adr/*.md")])


def _generator() -> ModuleType:
    name = "steelthread_docs_gen_config_reference"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DOCS / "gen_config_reference.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_configuration_page_matches_the_settings_objects() -> None:
    """The page documents a fresh clone, whose use case is the default one: the defaults it shows (the
    registered model name among them) are that use case's, whatever use case this session runs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")}
    result = subprocess.run(
        [sys.executable, str(DOCS / "gen_config_reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=env | {USECASE_ENV: DEFAULT_USECASE},
    )
    assert result.returncode == 0, result.stderr + (
        "\nregenerate with: uv run --no-sync python docs/gen_config_reference.py"
    )


def test_generator_renders_env_names_defaults_and_hides_secrets() -> None:
    text = _generator().render([("Serving", "steelthread_serving.settings:ServingSettings")])
    assert "| `STEELTHREAD_API_KEYS` | `list[SecretStr]` | *(secret)* |" in text
    assert "| `STEELTHREAD_FLAGS_PATH` | `Path` | `apps/serving/flags.json` |" in text
    assert str(ROOT) not in text, "absolute paths of this machine must not leak into the page"


def test_generator_lists_entries_that_are_not_built_instead_of_failing() -> None:
    text = _generator().render(
        [
            ("Nothing", "steelthread_no_such_member.settings:Settings"),
            ("Wrong class", "steelthread_contracts:NoSuchSettings"),
        ]
    )
    assert "## Not built yet" in text
    assert (
        "`steelthread_no_such_member.settings:Settings`: module `steelthread_no_such_member` not importable"
        in text
    )
    assert "`NoSuchSettings` not found in `steelthread_contracts`" in text


def test_generator_flags_shared_variables_whose_defaults_differ() -> None:
    text = _generator().render(
        [
            ("Serving", "steelthread_serving.settings:ServingSettings"),
            ("Features", "steelthread_features.settings:FeatureSettings"),
        ]
    )
    # STEELTHREAD_DATA_DIR is the shared root for both (the feature library derives its folders from it),
    # so the two settings objects must not be reported as disagreeing about it or about the profile.
    heading = "## Shared variables with different defaults"
    section = text.split(heading, 1)[1].split("## Not built yet")[0] if heading in text else ""
    assert "| `STEELTHREAD_DATA_DIR`" not in section
    assert "| `STEELTHREAD_PROFILE`" not in section


@pytest.mark.parametrize("page", MARKDOWN, ids=[str(p.relative_to(DOCS)) for p in MARKDOWN])
def test_relative_links_resolve(page: Path) -> None:
    missing = [
        m["target"]
        for m in LINK.finditer(page.read_text(encoding="utf-8"))
        if "://" not in m["target"] and not (page.parent / m["target"]).exists()
    ]
    assert not missing, f"{page.relative_to(ROOT)} links to missing files: {missing}"


def test_architecture_page_has_a_mermaid_diagram_of_every_part() -> None:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```mermaid\n(.*?)```", text, re.S)
    assert len(blocks) == 1
    assert blocks[0].startswith("flowchart")
    for part in (
        "packages/features",
        "packages/training",
        "apps/serving",
        "apps/monitoring",
        "steelthread-batch",
    ):
        assert part in blocks[0]


def test_adrs_are_numbered_and_keep_their_sections() -> None:
    adrs = sorted((DOCS / "adr").glob("[0-9][0-9][0-9][0-9]-*.md"))  # README.md is their index
    assert len(adrs) >= 7
    numbers = [int(p.name[:4]) for p in adrs]
    assert numbers == list(range(1, len(adrs) + 1))
    for adr in adrs:
        text = adr.read_text(encoding="utf-8")
        assert text.startswith(f"# ADR {adr.name[:4]}: "), adr.name
        for section in ("- Status: ", "## Context", "## Decision", "## Consequences"):
            assert section in text, f"{adr.name} lacks {section!r}"


def test_fork_guide_names_only_files_that_exist_unless_marked_to_be_wired() -> None:
    missing = []
    for line in (DOCS / "how-to-fork.md").read_text(encoding="utf-8").splitlines():
        if "to be wired" in line:
            continue
        for path in re.findall(r"`((?:packages|apps|infra|\.github|examples|docs)/[^`\s]*)`", line):
            if not (ROOT / path).exists():
                missing.append(path)
    assert not missing


def test_operations_page_lists_every_workflow() -> None:
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    for workflow in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        assert f"`{workflow.name}`" in text, workflow.name
