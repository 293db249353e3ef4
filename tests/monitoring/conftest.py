"""Fixtures for the monitoring tests: synthetic deployments, one job run per scenario, real tools."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from steelthread_monitoring.alerts import external_labels, series_from_textfile
from steelthread_monitoring.job import RunOptions, RunOutcome, run_monitoring
from steelthread_monitoring.skew import parquet_source
from steelthread_monitoring.synthetic import (
    SCENARIOS,
    Deployment,
    Scenario,
    offline_features_for,
    write_deployment,
)

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "infra" / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
MODEL_RULES = PROMETHEUS_DIR / "rules" / "steelthread-model.yml"
END = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ROWS = 2000


def require_tool(name: str, install: str) -> str:
    """Missing tools fail the test with the install command; they never skip it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found on PATH; install it with: {install}", pytrace=False)
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_tool("promtool", "apt-get update && apt-get install -y prometheus")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return require_tool("prometheus", "apt-get update && apt-get install -y prometheus")


@pytest.fixture(scope="session")
def chromium_bin() -> str:
    return require_tool("chromium", "apt-get update && apt-get install -y chromium")


@dataclass(frozen=True)
class ScenarioRun:
    scenario: Scenario
    deployment: Deployment
    outcome: RunOutcome
    textfile: Path


def _options_for(deployment: Deployment, root: Path, **overrides: object) -> RunOptions:
    values: dict[str, object] = {
        "window": timedelta(hours=24),
        "log_dir": deployment.log_dir,
        "feedback_dir": deployment.feedback_dir,
        "models_dir": deployment.models_dir,
        "out_dir": root / "monitoring",
        "textfile": root / "textfile" / "steelthread_monitor.prom",
        "now": END,
    }
    values.update(overrides)
    return RunOptions(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def scenario_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ScenarioRun]:
    """The job runs once per scenario (with the skew check) and every test reads the results."""
    runs: dict[str, ScenarioRun] = {}
    for scenario in SCENARIOS:
        root = tmp_path_factory.mktemp(f"scenario-{scenario}")
        deployment = write_deployment(root, ROWS, END, scenario)
        offline = root / "offline.parquet"
        offline_features_for(deployment.log_dir, scenario).to_parquet(offline)
        options = _options_for(deployment, root, offline_features=parquet_source(offline))
        outcome = run_monitoring(options)
        assert options.textfile is not None
        runs[scenario] = ScenarioRun(scenario, deployment, outcome, options.textfile)
    return runs


@pytest.fixture
def deployment_factory(tmp_path: Path) -> Callable[..., Deployment]:
    def make(scenario: Scenario = "none", rows: int = ROWS, labelled_share: float = 0.5) -> Deployment:
        return write_deployment(tmp_path, rows, END, scenario, labelled_share)

    return make


@pytest.fixture
def options_for() -> Callable[..., RunOptions]:
    """RunOptions for a deployment, writing under `root`; keyword arguments override."""
    return _options_for


@pytest.fixture(scope="session")
def window_end() -> datetime:
    return END


def render(template: str, labels: dict[str, str]) -> str:
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), template)
    external = external_labels()
    text = re.sub(r"\{\{ \$externalLabels\.(\w+) \}\}", lambda m: external.get(m.group(1), ""), text)
    assert "{{" not in text, f"annotation needs a value the test cannot predict: {template}"
    return text


def scenario_test(textfile: Path, expected: list[tuple[str, dict[str, str]]]) -> dict[str, Any]:
    doc = yaml.safe_load(MODEL_RULES.read_text())
    model_rules = [r for group in doc["groups"] for r in group["rules"] if "alert" in r]
    rows = [s for s in series_from_textfile(textfile) if "rows_checked{" in s["series"]]
    found = dict(re.findall(r'(model_name|model_version)="([^"]*)"', rows[0]["series"]))
    base = {"model_name": found["model_name"], "model_version": found["model_version"]}
    cases = []
    for name in sorted({rule["alert"] for rule in model_rules}):
        rule = next(r for r in model_rules if r["alert"] == name)
        exp = []
        for alert, extra in expected:
            if alert == name:
                labels = {**base, **extra, **rule["labels"]}
                exp.append(
                    {
                        "exp_labels": labels,
                        "exp_annotations": {k: render(v, labels) for k, v in rule["annotations"].items()},
                    }
                )
        cases.append({"alertname": name, "eval_time": "30m", "exp_alerts": exp})
    return {
        "rule_files": [str(MODEL_RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "name": f"job output of {textfile.parent.parent.name}",
                "interval": "1m",
                "external_labels": external_labels(),
                "input_series": series_from_textfile(textfile),
                "alert_rule_test": cases,
            }
        ],
    }


@pytest.fixture
def promtool_alerts(promtool: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Feed a job textfile to `promtool test rules`, expecting exactly the given model alerts."""

    def run(
        textfile: Path, expected: list[tuple[str, dict[str, str]]], workdir: Path
    ) -> subprocess.CompletedProcess[str]:
        test_file = workdir / f"alerts-{textfile.parent.parent.name}.yml"
        test_file.write_text(yaml.safe_dump(scenario_test(textfile, expected)))
        return subprocess.run(
            [promtool, "test", "rules", str(test_file)],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run
