"""`make demo` at a reduced size, once per use case: the whole loop (generate, Feast, train, gate, promote,
serve in every mode, feedback, monitor, alert rules, batch on the local engine) must keep working for the
binary credit example, the regression delivery example and the multiclass fixture, so none can break
unnoticed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.tools import path_without
from steelthread_contracts.usecase import registered

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(n for n in registered() if n in {"credit", "delivery"})
MULTICLASS = "fixtures.usecases.multiclass_fixture:USE_CASE"
"""The multiclass fixture use case (tests/fixtures/usecases): train, export, serve, batch, monitor."""


def test_both_examples_are_installed() -> None:
    assert SHIPPED == ["credit", "delivery"], sorted(registered())


@pytest.mark.parametrize("usecase", [*SHIPPED, MULTICLASS], ids=[*SHIPPED, "multiclass-fixture"])
def test_demo_runs_the_whole_loop(tmp_path: Path, usecase: str) -> None:
    """The multiclass run has no promtool on its PATH (a machine where `make demo` could not install it):
    the demo skips the alert evaluation, says so in the summary, and still finishes every other step."""
    without_promtool = usecase == MULTICLASS
    root = tmp_path / "demo"
    root.mkdir()
    (root / "stale-from-a-previous-run.txt").write_text("x")  # a second run starts clean
    path = path_without(["promtool"], tmp_path / "bin") if without_promtool else os.environ["PATH"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")} | {
        "PATH": path,
        "STEELTHREAD_USECASE": usecase,
        "PYTHONPATH": str(ROOT / "tests"),  # where the fixture use case's import path starts
        "STEELTHREAD_DEMO_DIR": str(root),
        "STEELTHREAD_DEMO_ROWS": "6000",
        "STEELTHREAD_DEMO_REPLAY": "40",
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert not (root / "stale-from-a-previous-run.txt").exists()
    counts = re.search(r"requests answered: (\d+); prediction-log records: (\d+)", out)
    assert counts, out[-2000:]
    assert counts.group(1) == counts.group(2) == str(4 * 40 + 2 * 40)
    assert "gate passed" in out
    # The modes really moved: the model answered in canary (part) and live (all) but never in skeleton/shadow.
    history = re.search(
        r"skeleton \(40, model answered (\d+)\) -> shadow \(40, model answered (\d+)\) -> "
        r"canary \(40, model answered (\d+)\) -> live \(40, model answered (\d+)\)",
        out,
    )
    assert history, out[-3000:]
    skeleton, shadow, canary, live = map(int, history.groups())
    assert (skeleton, shadow, live) == (0, 0, 40)
    assert 0 < canary < 40
    if without_promtool:
        assert re.search(
            r"skipped step: evaluate the alert rules: promtool is not on PATH .*summary\.json", out, re.S
        )
        assert "alerts that fired:" not in out
    else:
        assert "skipped step:" not in out
        assert "alerts that fired:" in out
        assert "runbooks/" in out
    assert (root / "mlflow" / "mlflow.db").is_file()
    reports = list((root / "monitoring").glob("*/report.html"))
    assert reports
    scored = re.search(r"(\d+) \w+: (\d+) scored, (\d+) quarantined by version 1 \(local engine", out)
    assert scored, out[-3000:]
    rows_in, ok, quarantined = map(int, scored.groups())
    assert rows_in == 6000 == ok + quarantined
    assert ok > 0.9 * rows_in


def test_make_demo_tool_step_says_why_and_goes_on_where_promtool_cannot_be_had(tmp_path: Path) -> None:
    """`make demo`'s first step on a machine that is not Debian (no apt-get) and has no promtool: one line
    saying why, exit 0, so the demo runs and skips only the alert evaluation."""
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ensure-tools.sh"), "--best-effort", "promtool"],
        env=os.environ | {"PATH": path_without(["promtool", "apt-get"], tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "ensure-tools: cannot install prometheus: no apt-get (not Debian or Ubuntu); install them by hand; "
        "the steps that need it are skipped"
    )
    strict = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ensure-tools.sh"), "promtool"],
        env=os.environ | {"PATH": path_without(["promtool", "apt-get"], tmp_path / "strict")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert strict.returncode == 1
    assert "error: cannot install prometheus: no apt-get" in strict.stderr
