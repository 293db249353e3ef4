"""Every documentation page can be reached from docs/index.md, and no relative link points at nothing.

A page nobody links is a page nobody reads: each docs/*.md is linked from the index itself, each
docs/adr/*.md from the index or from the ADR index it links. Links are checked in docs/, runbooks/, the
README and the project files (contributing, security, changelog).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
INDEX = DOCS / "index.md"
ADR_INDEX = DOCS / "adr" / "README.md"
LINK = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s#]*)(?:#[^)]*)?\)")
PROJECT_FILES = ["README.md", "CONTRIBUTING.md", "SECURITY.md", "CHANGELOG.md"]
LINKING_PAGES = sorted(
    [
        *DOCS.rglob("*.md"),
        *(ROOT / "runbooks").glob("*.md"),
        *(ROOT / name for name in PROJECT_FILES),
    ]
)


def relative_links(page: Path) -> list[str]:
    """The relative targets a page links, anchors dropped (absolute URLs and mail addresses left out)."""
    return [
        m["target"]
        for m in LINK.finditer(page.read_text(encoding="utf-8"))
        if m["target"] and ":" not in m["target"]
    ]


def linked_pages(page: Path) -> set[Path]:
    return {(page.parent / target).resolve() for target in relative_links(page)}


def test_the_link_pattern_finds_relative_links_and_ignores_urls() -> None:
    text = "[a](x.md) [b](../y/z.md#part) [c](https://e.invalid/q.md) [d](mailto:a@b.invalid) [e](#top)"
    page = DOCS / "probe.md"
    page_links = [m["target"] for m in LINK.finditer(text) if m["target"] and ":" not in m["target"]]
    assert page_links == ["x.md", "../y/z.md"]
    assert (page.parent / page_links[1]).resolve() == (ROOT / "y" / "z.md").resolve()


def test_the_project_files_exist() -> None:
    for name in [*PROJECT_FILES, "LICENSE", ".github/CODEOWNERS"]:
        assert (ROOT / name).is_file(), f"{name} is missing"


def test_the_licence_is_the_one_pyproject_declares() -> None:
    declared = re.search(r'^license = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert declared is not None
    assert declared[1] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text


@pytest.mark.parametrize("page", [p for p in sorted(DOCS.glob("*.md")) if p != INDEX], ids=lambda p: p.name)
def test_every_docs_page_is_linked_from_the_index(page: Path) -> None:
    assert page.resolve() in linked_pages(INDEX), f"docs/index.md does not link {page.name}"


def test_the_index_links_the_adr_index_and_it_links_every_adr() -> None:
    assert ADR_INDEX.resolve() in linked_pages(INDEX)
    reachable = linked_pages(INDEX) | linked_pages(ADR_INDEX)
    unlinked = [
        p.name for p in sorted((DOCS / "adr").glob("*.md")) if p != ADR_INDEX and p.resolve() not in reachable
    ]
    assert unlinked == [], f"ADRs not linked from docs/index.md or docs/adr/README.md: {unlinked}"


def test_the_index_links_the_api_documents_and_the_runbooks() -> None:
    targets = linked_pages(INDEX)
    for document in sorted((DOCS / "api").glob("*.json")):
        assert document.resolve() in targets, f"docs/index.md does not link api/{document.name}"
    assert (ROOT / "runbooks" / "README.md").resolve() in targets


@pytest.mark.parametrize("page", LINKING_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    missing = [t for t in relative_links(page) if not (page.parent / t).exists()]
    assert missing == [], f"{page.relative_to(ROOT)} links to missing files: {missing}"
