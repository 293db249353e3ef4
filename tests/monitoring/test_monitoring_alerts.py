"""Alert rules: promtool checks, hand-written rule tests, and every scenario's real job output fed to
promtool so each scenario fires its own alert and no other."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from steelthread_contracts.package import Task
from steelthread_contracts.usecase import active

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "infra" / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))

PERFORMANCE_ALERTS: dict[Task, list[tuple[str, dict[str, str]]]] = {
    Task.BINARY: [("SteelthreadPerformanceDrop", {})],
    Task.REGRESSION: [("SteelthreadErrorRise", {})],
}
"""What a label shift fires for the active use case's task: a classifier's ROC AUC drop, a regression
model's rise in mean absolute error."""

# Scenario → the alert (and its extra labels) it must fire; every other alert must stay silent.
EXPECTED: dict[str, list[tuple[str, dict[str, str]]]] = {
    "none": [],
    "input_shift": [("SteelthreadInputDrift", {})],
    "new_category": [("SteelthreadDataQualityBreach", {"check": "new_category"})],
    "missing_values": [("SteelthreadDataQualityBreach", {"check": "missing_values"})],
    "label_shift": PERFORMANCE_ALERTS[active().task],
    "skew": [("SteelthreadTrainingServingSkew", {})],
}


def rules(path: Path) -> list[dict[str, Any]]:
    doc = yaml.safe_load(path.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def alert_rules() -> list[dict[str, Any]]:
    return [rule for path in RULE_FILES for rule in rules(path) if "alert" in rule]


def promtool_run(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_rules_pass_promtool_check(promtool: str) -> None:
    result = promtool_run(promtool, "check", "rules", *map(str, RULE_FILES), cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_FILES)


def test_prometheus_config_passes_promtool_check(promtool: str) -> None:
    result = promtool_run(promtool, "check", "config", "prometheus.yml", cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", sorted((PROMETHEUS_DIR / "tests").glob("*.yml")), ids=str)
def test_handwritten_rule_tests_pass(promtool: str, test_file: Path) -> None:
    result = promtool_run(promtool, "test", "rules", str(test_file), cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_an_existing_runbook() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    assert {
        "SteelthreadInputDrift",
        "SteelthreadPredictionDrift",
        "SteelthreadDataQualityBreach",
        "SteelthreadPerformanceDrop",
        "SteelthreadErrorRise",
        "SteelthreadTrainingServingSkew",
        "SteelthreadModelStale",
        "SteelthreadInvalidScores",
        "SteelthreadDegradedAnswers",
        "SteelthreadPredictionLogNotStored",
        "SteelthreadHigh5xxRate",
        "SteelthreadLatencySLO",
        "SteelthreadServingDown",
        "SteelthreadFlagsInvalid",
        "SteelthreadMonitorWindowEmpty",
        "SteelthreadLabelsStarved",
    } <= names
    for rule in alert_rules():
        url = rule["annotations"]["runbook_url"]
        match = re.fullmatch(r"\{\{ \$externalLabels\.runbook_base \}\}/([a-z0-9-]+\.md)", url)
        assert match, f"{rule['alert']}: runbook_url {url} is not the runbook base and a page"
        page = REPO / "runbooks" / match[1]
        assert page.is_file(), f"{rule['alert']}: runbook {match[1]} does not exist"
        assert rule["alert"] in page.read_text(), f"{match[1]} does not name {rule['alert']}"


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_scenario_fires_its_alert_and_no_other(
    promtool_alerts: Callable[..., Any], scenario_runs: dict[str, Any], scenario: str, tmp_path: Path
) -> None:
    result = promtool_alerts(scenario_runs[scenario].textfile, EXPECTED[scenario], tmp_path)
    assert result.returncode == 0, f"{scenario}:\n{result.stdout}{result.stderr}"


def test_scenario_check_can_fail(
    promtool_alerts: Callable[..., Any], scenario_runs: dict[str, Any], tmp_path: Path
) -> None:
    """The generated test is not vacuous: expecting silence from the input-shift output fails."""
    result = promtool_alerts(scenario_runs["input_shift"].textfile, [], tmp_path)
    assert result.returncode != 0
    assert "SteelthreadInputDrift" in result.stdout + result.stderr
