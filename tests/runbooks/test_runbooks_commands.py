"""Every ```bash runnable block of every runbook runs (bash -euo pipefail) against a local deployment.

A runbook page is a sequence: its blocks run in order in the same deployment, so a later block may rely
on an earlier one (e.g. a flag change and its check). Flags and the latest run are restored per page.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNBOOKS = REPO / "runbooks"
BLOCK = re.compile(r"```bash runnable\n(.*?)```", re.DOTALL)


def runnable_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


def run_block(block: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


PAGES = [p for p in sorted(RUNBOOKS.glob("*.md")) if runnable_blocks(p)]


def test_most_pages_have_runnable_commands() -> None:
    assert len(PAGES) >= 15, [p.name for p in PAGES]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_runnable_blocks_succeed(page: Path, local_deployment: Any) -> None:
    local_deployment.reset()
    for number, block in enumerate(runnable_blocks(page), start=1):
        result = run_block(block, local_deployment.env)
        assert result.returncode == 0, (
            f"{page.name} block {number} exited {result.returncode}:\n{block}\n"
            f"--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-3000:]}"
        )
        assert result.stdout.strip() != "null", f"{page.name} block {number} printed only null"


def test_flags_invalid_page_confirms_and_fixes_a_broken_flag_file(local_deployment: Any) -> None:
    """The page's commands under the condition it is for: the deployment's flag file is broken."""
    local_deployment.reset()
    confirm, check, mitigate, verify = runnable_blocks(RUNBOOKS / "flags-invalid.md")

    def confirm_until(expected: str) -> subprocess.CompletedProcess[str]:
        deadline = time.monotonic() + 10
        while expected not in (shown := run_block(confirm, local_deployment.env)).stdout:
            assert time.monotonic() < deadline, shown.stdout + shown.stderr
            time.sleep(0.2)
        return shown

    confirm_until('"mode": "skeleton"')  # the pristine flags are in effect: the last good ones from here
    local_deployment.flags_path.write_text("{not json")
    shown = confirm_until("Could not parse JSON")
    assert shown.returncode == 0, shown.stderr  # /readyz still answers 200
    assert "steelthread_flags_valid 0.0" in shown.stdout
    assert '"mode": "skeleton"' in shown.stdout  # the last good mode, not an error
    checked = run_block(check, local_deployment.env)
    assert checked.returncode == 2
    assert checked.stderr.startswith("error: flag file")
    assert "not valid JSON" in checked.stderr
    fixed = run_block(mitigate, local_deployment.env)
    assert fixed.returncode == 0, fixed.stderr
    verified = run_block(verify, local_deployment.env)
    assert (verified.returncode, verified.stdout.strip()) == (0, "true"), verified.stderr
