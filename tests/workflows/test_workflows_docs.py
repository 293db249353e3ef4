"""The documentation stays true to the repository: the configuration generator names what pydantic-settings
reads (tests/workflows/test_workflows_config.py checks the page itself), every relative link resolves, every file the fork guide names exists, and the ADRs keep their shape."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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


def test_generator_renders_env_names_defaults_and_hides_secrets() -> None:
    text = _generator().render([("Serving", "steelthread_serving.settings:ServingSettings")])
    assert "| `STEELTHREAD_API_KEYS` | `list[SecretStr]` | *(secret)* |" in text
    assert "| `STEELTHREAD_FLAGS_PATH` | `Path` | `apps/serving/flags.json` |" in text
    assert str(ROOT) not in text, "absolute paths of this machine must not leak into the page"


class _Aliased(BaseSettings):
    """A settings class whose variables are not its field names."""

    model_config = SettingsConfigDict(env_prefix="STEELTHREAD_")

    root: Path = Field(default=Path("var"), validation_alias="STEELTHREAD_SOME_ROOT")
    either: int = Field(default=1, validation_alias=AliasChoices("STEELTHREAD_ONE", "STEELTHREAD_OTHER"))


def test_generator_names_variables_as_pydantic_settings_reads_them() -> None:
    """A validation alias is the variable (the old generator documented field names nobody read)."""
    rows = _generator().rows(_Aliased)
    assert [r.env for r in rows] == ["STEELTHREAD_SOME_ROOT", "STEELTHREAD_ONE", "STEELTHREAD_OTHER"]
    assert _Aliased(**{"STEELTHREAD_SOME_ROOT": "x"}).root == Path("x")  # type: ignore[arg-type]


def test_generator_refuses_one_name_declared_by_two_classes() -> None:
    with pytest.raises(
        ValueError,
        match=r"STEELTHREAD_PROFILE is declared by .*ServingSettings and .*BatchSettings: one name, one owner",
    ):
        _generator().render(
            [
                ("Serving", "steelthread_serving.settings:ServingSettings"),
                ("Batch", "steelthread_batch.settings:BatchSettings"),
            ]
        )


def test_generator_documents_each_shared_folder_once_with_its_derived_default() -> None:
    text = _generator().render(_generator().SETTINGS)
    assert text.count("| `STEELTHREAD_MODELS_DIR` |") == 1
    assert "| `STEELTHREAD_MODELS_DIR` | `Path` | `<data_dir>/models` |" in text


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
