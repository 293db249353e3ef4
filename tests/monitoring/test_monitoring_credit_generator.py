"""The credit example's own data generator, end to end: each of its drift scenarios fires its alert and no
other, and the findings name the columns the scenario changes.

A test of the credit example's domain (its scenarios, its columns, its binary label), whatever use case
this process runs: credit_generator_run.py runs generator -> Feast -> the monitoring job in a process of its
own with `STEELTHREAD_USECASE=credit`, and this test feeds each run's real textfile to `promtool test rules`.
It stays under tests/ because it needs the features and monitoring members, tests/helpers and promtool;
usecases/credit/tests may import only what the credit member declares, and CI runs them with it alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from steelthread_contracts.usecase import USECASE_ENV
from steelthread_monitoring.summary import Summary

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parents[1]

# A held-out purpose is a new category: the data-quality alert (label `check`), and nothing else fires. Its
# one-hot columns are not checked beside `purpose` itself (analysis.checked_columns), so it counts once.
EXPECTED: dict[str, list[tuple[str, dict[str, str]]]] = {
    "baseline": [],
    "income_shift": [("SteelthreadInputDrift", {})],
    "new_category": [
        ("SteelthreadDataQualityBreach", {"check": "new_category"}),
    ],
    "missing_values": [("SteelthreadDataQualityBreach", {"check": "missing_values"})],
    "label_shift": [("SteelthreadPerformanceDrop", {})],
}


@dataclass(frozen=True)
class GeneratedRun:
    summary: Summary
    textfile: Path


@pytest.fixture(scope="module")
def generated_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GeneratedRun]:
    out = tmp_path_factory.mktemp("credit-generator")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")} | {
        USECASE_ENV: "credit",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-m", "monitoring.credit_generator_run", str(out), *EXPECTED],
        env=env,
        cwd=TESTS.parent,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = json.loads((out / "runs.json").read_text())
    return {
        name: GeneratedRun(
            Summary.model_validate_json(Path(run["summary"]).read_text()), Path(run["textfile"])
        )
        for name, run in runs.items()
    }


@pytest.mark.parametrize("scenario", list(EXPECTED))
def test_generator_scenario_fires_its_alert_and_no_other(
    generated_runs: dict[str, GeneratedRun],
    promtool_alerts: Callable[..., Any],
    scenario: str,
    tmp_path: Path,
) -> None:
    run = generated_runs[scenario]
    assert run.summary.rows > 1000
    result = promtool_alerts(run.textfile, EXPECTED[scenario], tmp_path)
    assert result.returncode == 0, f"{scenario}:\n{result.stdout}{result.stderr}"


def test_generator_scenarios_change_what_they_name(generated_runs: dict[str, GeneratedRun]) -> None:
    """The findings point at the generator's own scenario columns, not just at some alert."""
    summaries = {name: run.summary for name, run in generated_runs.items()}
    assert "income" in summaries["income_shift"].drift.drifted
    assert summaries["new_category"].quality.new_categories == {"purpose": ["education"]}
    missing = summaries["missing_values"].quality
    increase = {
        c: missing.missing_share[c] - missing.reference_missing_share[c] for c in missing.missing_share
    }
    assert {c for c, v in increase.items() if v > 0.1} == {
        "total_balance",
        "credit_utilisation",
        "debt_to_income",
    }
    label = summaries["label_shift"].performance
    assert label.reference["roc_auc"] - label.current["roc_auc"] > 0.05
    assert summaries["label_shift"].drift.drifted == []
    assert summaries["baseline"].absent_columns == ["region", "protected_group"]
