"""A real Prometheus, started with the shipped config and rules, scraping a real serving process."""

from __future__ import annotations

import shutil
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from steelthread_monitoring.alerts import external_labels
from steelthread_monitoring.localstack import (
    Process,
    get_json,
    start_prometheus,
    start_serving,
    wait_for_target_up,
)
from steelthread_serving.settings import DEFAULT_FLAGS_PATH

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "infra" / "prometheus" / "prometheus.yml"
API_KEY = "monitoring-test-key-0123456789"


@pytest.fixture
def stack(tmp_path: Path, prometheus_bin: str) -> Iterator[tuple[Process, Process]]:
    flags = tmp_path / "flags.json"
    shutil.copy(DEFAULT_FLAGS_PATH, flags)
    serving = start_serving(tmp_path / "var", flags, API_KEY, tmp_path)
    try:
        target = serving.url.removeprefix("http://")
        prometheus = start_prometheus(prometheus_bin, CONFIG, target, tmp_path)
        try:
            yield serving, prometheus
        finally:
            prometheus.stop()
    finally:
        serving.stop()


def query(prometheus: Process, promql: str) -> list[dict[str, Any]]:
    url = f"{prometheus.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    result: list[dict[str, Any]] = get_json(url)["data"]["result"]
    return result


def shipped_rule_names() -> set[str]:
    names = set()
    for path in (REPO / "infra" / "prometheus" / "rules").glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names |= {rule.get("alert") or rule["record"] for rule in group["rules"]}
    return names


def wait_for(predicate: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


def test_prometheus_scrapes_serving_and_loads_the_rules(stack: tuple[Process, Process]) -> None:
    serving, prometheus = stack
    target = wait_for_target_up(prometheus.url)
    assert target["scrapeUrl"] == f"{serving.url}/metrics"

    assert [s["value"][1] for s in query(prometheus, 'up{job="steelthread-serving"}')] == ["1"]
    modes = query(prometheus, "steelthread_serving_mode == 1")
    assert [s["metric"]["mode"] for s in modes] == ["skeleton"]

    def evaluated_rules() -> dict[str, str]:
        groups = get_json(f"{prometheus.url}/api/v1/rules")["data"]["groups"]
        rules = {rule["name"]: rule["health"] for g in groups for rule in g["rules"]}
        return rules if rules and all(h == "ok" for h in rules.values()) else {}

    rules = wait_for(evaluated_rules, 20, "every rule evaluated with health ok")
    assert set(rules) == shipped_rule_names()

    def no_alerts() -> bool:
        # Before the first scrape, absent(up) may have made ServingDown pending for one evaluation.
        alerts: list[Any] = get_json(f"{prometheus.url}/api/v1/alerts")["data"]["alerts"]
        return alerts == []

    wait_for(no_alerts, 10, "no pending or firing alert while serving is healthy")

    # Then the serving process dies: the down alert goes pending (for: 2m) through the real pipeline.
    serving.stop()

    def serving_down() -> list[dict[str, Any]]:
        alerts = get_json(f"{prometheus.url}/api/v1/alerts")["data"]["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == "SteelthreadServingDown"]

    alerts = wait_for(serving_down, 20, "SteelthreadServingDown to become pending")
    assert alerts[0]["state"] == "pending", "for: 2m keeps it pending first"
    base = external_labels()["runbook_base"]  # the real Prometheus renders the absolute URL
    assert alerts[0]["annotations"]["runbook_url"] == f"{base}/serving-down.md"
