"""Runbook pages: structure, links, and one page per alert rule and per procedure."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.runbooks import sections
from steelthread_contracts.degraded import degraded_reasons, unknown_entity
from steelthread_contracts.usecase import load, registered

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
    "canary-aborted",
    "experiment-halted",
    "challenger-better",
}
ALERT_SECTIONS = ["What it means", "How to confirm", "How to mitigate", "How to verify", "When to escalate"]
RUNNABLE = re.compile(r"```bash runnable\n(.*?)```", re.DOTALL)
COMMANDS = re.compile(r"```bash( runnable)?\n(.*?)```", re.DOTALL)
RUNBOOK_URL = re.compile(r"\{\{ \$externalLabels\.runbook_base \}\}/(?P<page>[a-z0-9-]+\.md)")
PROMETHEUS_CONFIG = REPO / "infra" / "prometheus" / "prometheus.yml"


def front_matter(page: Path) -> dict[str, str]:
    match = re.match(r"---\n(.*?)\n---\n", page.read_text(), re.DOTALL)
    assert match, f"{page.name}: no front matter"
    data: dict[str, str] = yaml.safe_load(match.group(1))
    return data


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule of every rules file (the list of alert pages derives from these)."""
    rules = []
    for path in sorted((REPO / "infra" / "prometheus" / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules += [r for r in group["rules"] if "alert" in r]
    return rules


def alert_names() -> set[str]:
    return {r["alert"] for r in alert_rules()}


ALERT_PAGES = [p for p in PAGES if front_matter(p).get("kind") == "alert"]


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


@pytest.mark.parametrize("page", ALERT_PAGES, ids=lambda p: p.stem)
def test_alert_page_confirms_and_verifies_with_commands_the_tests_run(page: Path) -> None:
    """Confirm and Verify each hold a runnable block (tests/runbooks runs it against a local deployment);
    Mitigate holds commands, or links the procedure page that has them."""
    found = sections(page)
    for heading in ("How to confirm", "How to verify"):
        assert RUNNABLE.search(found[heading]), f"{page.name}: no runnable command under {heading!r}"
    mitigate = found["How to mitigate"]
    procedures = {m for m in re.findall(r"\]\(([a-z0-9-]+)\.md\)", mitigate) if m in PROCEDURES}
    assert COMMANDS.search(mitigate) or procedures, f"{page.name}: no command or procedure to mitigate"


def runbook_base() -> str:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    base: str = config["global"]["external_labels"]["runbook_base"]
    return base


def test_the_runbook_base_is_one_absolute_url() -> None:
    base = runbook_base()
    assert re.fullmatch(r"https://[^\s{}]+/runbooks", base), base
    for path in (REPO / "infra").rglob("*.y*ml"):
        if path != PROMETHEUS_CONFIG and "tests" not in path.parts:
            assert base not in path.read_text(), f"{path.relative_to(REPO)} repeats the runbook base"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_every_rule_links_its_page_through_the_base(rule: dict[str, Any]) -> None:
    """The annotation is the base plus an existing page whose front matter names this alert, so the URL
    Prometheus renders (base + page, checked by the promtool rule tests) opens the right page."""
    url = rule["annotations"]["runbook_url"]
    match = RUNBOOK_URL.fullmatch(url)
    assert match, (
        f"{rule['alert']}: runbook_url {url!r} is not '{{{{ $externalLabels.runbook_base }}}}/<page>.md'"
    )
    page = RUNBOOKS / match["page"]
    assert page.is_file(), f"{rule['alert']}: {page.name} does not exist"
    assert front_matter(page).get("alert") == rule["alert"]
    assert f"{runbook_base()}/{page.name}".startswith("https://")


def degraded_rows() -> set[str]:
    """The reasons named in the first column of degraded-answers.md's mapping table."""
    table = sections(RUNBOOKS / "degraded-answers.md")["How to mitigate"]
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    return {reason for row in rows for reason in re.findall(r"`([a-z_<>]+)`", row)}


@pytest.mark.parametrize("use_case", sorted(registered()))
def test_every_degraded_reason_is_mapped(use_case: str) -> None:
    """Every reason serving can give for each shipped use case has its row, and no row is stale."""
    mapped = degraded_rows()
    reasons = degraded_reasons(load(use_case).entity.name)
    assert reasons - mapped == set(), f"degraded-answers.md does not map {sorted(reasons - mapped)}"
    every = set().union(*(degraded_reasons(load(name).entity.name) for name in registered()))
    assert mapped - every - {unknown_entity("<entity>")} == set(), "rows for reasons serving never gives"
