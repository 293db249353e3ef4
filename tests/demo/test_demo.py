"""`make demo` at a reduced size: the whole loop must keep working, so it cannot break unnoticed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    root.mkdir()
    (root / "stale-from-a-previous-run.txt").write_text("x")  # a second run starts clean
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")} | {
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
    assert "alerts that fired:" in out
    assert "runbooks/" in out
    assert (root / "mlflow" / "mlflow.db").is_file()
    reports = list((root / "monitoring").glob("*/report.html"))
    assert reports
