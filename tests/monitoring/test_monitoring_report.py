"""The Evidently HTML report as a person sees it: rendered by headless Chromium, drift table visible."""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path
from typing import Any

from steelthread_monitoring.synthetic import plan

PLAN = plan()
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=15000",
]


def chromium(binary: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def visible_text(dom: str) -> str:
    """Text a person can read: no script/style bodies (the report's raw JSON lives in scripts)."""
    dom = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", dom)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))


def test_drift_table_renders(scenario_runs: dict[str, Any], chromium_bin: str, tmp_path: Path) -> None:
    report = scenario_runs["input_shift"].outcome.run_dir / "report.html"
    result = chromium(chromium_bin, tmp_path, "--dump-dom", report.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    text = visible_text(result.stdout)
    columns = len(PLAN.monitored)
    # Evidently rounds the share to three decimals and prints it as Python does (4.0, 5.882).
    assert f"Drift is detected for {round(100 / columns, 3)}% of columns (1 out of {columns})." in text
    # One drift definition (steelthread_monitoring.drift): one drifted column is dataset drift.
    assert "Dataset Drift is detected." in text, "the headline must agree with SteelthreadInputDrift"
    table = text[text.index("Drift is detected for") :]
    shifted = re.escape(PLAN.shift_column)
    assert re.search(rf"{shifted} num Detected Wasserstein distance \(normed\) 1\.\d+", table)
    # The table pages at ten rows, most drifted first: the next rows are columns that did not drift.
    others = "|".join(re.escape(c) for c in PLAN.features if c != PLAN.shift_column)
    assert re.search(rf"(?:{others}) num Not Detected Wasserstein distance \(normed\) 0\.0\d+", table)
    assert "Drift in column 'score'" in text


def test_screenshot_shows_a_rendered_page(
    scenario_runs: dict[str, Any], chromium_bin: str, tmp_path: Path
) -> None:
    report = scenario_runs["input_shift"].outcome.run_dir / "report.html"
    shot = tmp_path / "report.png"
    result = chromium(
        chromium_bin, tmp_path, "--window-size=1400,1800", f"--screenshot={shot}", report.as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1400, 1800)
    # A blank or error page compresses to a few kB; the rendered table and charts do not.
    assert len(data) > 60_000, f"screenshot only {len(data)} bytes: nothing rendered?"
