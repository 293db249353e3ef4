"""Every ```bash runnable block of every runbook runs (bash -euo pipefail) against a local deployment.

A runbook page is a sequence: its blocks run in order in the same deployment, so a later block may rely
on an earlier one (e.g. a flag change and its check). Flags and the latest run are restored per page.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNBOOKS = REPO / "runbooks"
BLOCK = re.compile(r"```bash runnable\n(.*?)```", re.DOTALL)


def runnable_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


PAGES = [p for p in sorted(RUNBOOKS.glob("*.md")) if runnable_blocks(p)]


def test_most_pages_have_runnable_commands() -> None:
    assert len(PAGES) >= 15, [p.name for p in PAGES]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_runnable_blocks_succeed(page: Path, local_deployment: Any) -> None:
    local_deployment.reset()
    for number, block in enumerate(runnable_blocks(page), start=1):
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=REPO,
            env=local_deployment.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, (
            f"{page.name} block {number} exited {result.returncode}:\n{block}\n"
            f"--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-3000:]}"
        )
        assert result.stdout.strip() != "null", f"{page.name} block {number} printed only null"
