"""Grafana: provisioned Prometheus datasource and a dashboard that plots metrics the apps really export."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "infra" / "grafana"
# The serving metrics named in the shared contract.
SERVING_METRICS = {
    "steelthread_http_requests_total",
    "steelthread_prediction_latency_seconds",
    "steelthread_predictions_total",
    "steelthread_prediction_score",
    "steelthread_model_info",
    "steelthread_serving_mode",
    "steelthread_degraded_predictions_total",
    "steelthread_invalid_scores_total",
    "steelthread_model_refusals_total",
    "steelthread_model_loaded_timestamp_seconds",
}
METRIC = re.compile(r"\bsteelthread_[a-z0-9_]+")


def monitoring_gauges() -> set[str]:
    """Gauge names the monitoring job exports (steelthread_monitor_<name>), read from its exporter."""
    source = (REPO / "apps/monitoring/src/steelthread_monitoring/export.py").read_text()
    prefix = re.search(r'PREFIX = "([a-z_]+)"', source)
    assert prefix is not None
    names = re.findall(r'gauge\(\s*"([a-z_]+)"', source)
    names += re.findall(r'"([a-z_]+)": \(\s*"', source)
    return {f"{prefix.group(1)}_{n}" for n in names}


def dashboard() -> dict[str, Any]:
    return dict(json.loads((GRAFANA / "dashboards" / "steelthread.json").read_text()))


def exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def test_datasource_is_the_compose_prometheus() -> None:
    doc = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (source,) = doc["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    compose = yaml.safe_load((REPO / "infra/compose.yaml").read_text())
    assert "127.0.0.1:9090:9090" in compose["services"]["prometheus"]["ports"]
    panel_sources = {p["datasource"]["uid"] for p in dashboard()["panels"] if "datasource" in p}
    assert panel_sources == {source["uid"]}


def test_dashboard_provider_loads_the_mounted_folder() -> None:
    doc = yaml.safe_load((GRAFANA / "provisioning/dashboards/steelthread.yml").read_text())
    (provider,) = doc["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert dashboard()["uid"] == "steelthread-overview"


def test_every_plotted_metric_is_exported() -> None:
    known = SERVING_METRICS | monitoring_gauges()
    assert len(monitoring_gauges()) >= 10
    for expr in exprs():
        for metric in METRIC.findall(expr):
            base = re.sub(r"_(bucket|sum|count)$", "", metric)
            assert metric in known or base in known, f"{metric} is not exported by serving or monitoring"


def test_dashboard_covers_serving_and_monitoring() -> None:
    used = {re.sub(r"_(bucket|sum|count)$", "", m) for e in exprs() for m in METRIC.findall(e)}
    assert used >= SERVING_METRICS, f"serving metrics without a panel: {sorted(SERVING_METRICS - used)}"
    assert {
        "steelthread_monitor_drift_share",
        "steelthread_monitor_performance",
        "steelthread_monitor_last_run_timestamp_seconds",
    } <= used


def test_panels_have_unique_ids_and_titles() -> None:
    panels = dashboard()["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    assert all(p["title"] for p in panels)
