"""Runbook pages: structure, links, and one page per alert rule and per procedure."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RUNBOOKS = REPO / "runbooks"
PAGES = sorted(p for p in RUNBOOKS.glob("*.md") if p.name != "README.md")
PROCEDURES = {
    "promote",
    "canary",
    "rollback",
    "retrain",
    "feature-store-outage",
    "scale-out",
    "deploy",
    "incident",
}
ALERT_SECTIONS = ["What it means", "How to confirm", "How to mitigate", "When to escalate"]


def front_matter(page: Path) -> dict[str, str]:
    match = re.match(r"---\n(.*?)\n---\n", page.read_text(), re.DOTALL)
    assert match, f"{page.name}: no front matter"
    data: dict[str, str] = yaml.safe_load(match.group(1))
    return data


def alert_names() -> set[str]:
    names = set()
    for path in (REPO / "infra" / "prometheus" / "rules").glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names |= {r["alert"] for r in group["rules"] if "alert" in r}
    return names


def test_procedure_pages_exist() -> None:
    assert {p.stem for p in PAGES} >= PROCEDURES


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_page_structure(page: Path) -> None:
    meta = front_matter(page)
    text = page.read_text()
    assert meta["kind"] in {"alert", "procedure"}
    assert meta["title"]
    assert meta["owner"]
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    if meta["kind"] == "alert":
        assert headings == ALERT_SECTIONS, f"{page.name}: sections {headings}"
        assert meta["alert"] in alert_names(), f"{page.name}: no rule named {meta['alert']}"
        assert f"# {meta['alert']}" in text
    else:
        assert page.stem in PROCEDURES
        assert headings[0] == "When to use"
        assert "Steps" in headings


def test_every_alert_has_exactly_one_page() -> None:
    pages = [front_matter(p).get("alert") for p in PAGES]
    assert sorted(p for p in pages if p) == sorted(alert_names())


@pytest.mark.parametrize("page", [*PAGES, RUNBOOKS / "README.md"], ids=lambda p: p.stem)
def test_relative_links_resolve(page: Path) -> None:
    for target in re.findall(r"\]\(([^)#:]+\.md)\)", page.read_text()):
        assert (page.parent / target).is_file(), f"{page.name} links to missing {target}"


def test_runnable_blocks_only_use_built_commands() -> None:
    """Runnable blocks may call only CLIs that exist; plain blocks hold the rest until they do."""
    unbuilt = ("steelthread-promote", "steelthread-audit", "steelthread-train", "steelthread-batch")
    for page in PAGES:
        for block in re.findall(r"```bash runnable\n(.*?)```", page.read_text(), re.DOTALL):
            for name in unbuilt:
                assert name not in block, f"{page.name}: runnable block calls {name}"
