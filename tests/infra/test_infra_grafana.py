"""Grafana: a provisioned Prometheus datasource and a dashboard with a picture for every alert.

Every alert rule under infra/prometheus/rules is read from the files themselves (recording rules expanded),
split into its firing conditions (metric(s) compared with a number), and each condition must have a panel
that queries those metrics and draws the same number as a red threshold on the firing side. A rule added
later is checked the moment it lands. The dashboard is also read through grafana-foundation-sdk's models
(generated from Grafana's own dashboard and panel schemas): a key the schema does not know is dropped on the
way through, and the test names it.
"""

from __future__ import annotations

import ast
import json
import operator
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "infra" / "grafana"
RULES = sorted((REPO / "infra" / "prometheus" / "rules").glob("*.yml"))
METRIC = re.compile(r"\b(?:steelthread_[a-z0-9_]+(?::[a-z0-9_]+)?|up)\b(?!\s*\()")
COMPARISON = re.compile(r"(>=|<=|==|!=|>|<)\s*([0-9.*+\-/ ]+?)\s*$")
_OPS = {ast.Mult: operator.mul, ast.Add: operator.add, ast.Sub: operator.sub, ast.Div: operator.truediv}


def serving_metrics() -> set[str]:
    """Metric names the serving app registers, read from its metrics module."""
    source = (REPO / "apps/serving/src/steelthread_serving/metrics.py").read_text()
    return set(re.findall(r'"(steelthread_[a-z0-9_]+)"', source))


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


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def exprs(panel: dict[str, Any]) -> list[str]:
    return [t["expr"] for t in panel.get("targets", [])]


def metrics_of(expr: str) -> set[str]:
    return {re.sub(r"_(bucket|sum|count|total)$", "", m) for m in METRIC.findall(expr)}


def number(text: str) -> float:
    """A rule's threshold: a number or constant arithmetic (`30 * 86400`)."""

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return float(_OPS[type(node.op)](value(node.left), value(node.right)))
        raise ValueError(f"not a constant threshold: {text!r}")

    return value(ast.parse(text.strip(), mode="eval").body)


def top_level(expr: str, word: str) -> list[str]:
    """`expr` split on a binary keyword (or, unless) outside parentheses."""
    parts, depth, start = [], 0, 0
    pattern = re.compile(rf"\b{word}\b(?:\s+on\s*\([^)]*\))?")
    i = 0
    while i < len(expr):
        ch = expr[i]
        depth += ch == "("
        depth -= ch == ")"
        match = pattern.match(expr, i) if depth == 0 else None
        if match and (i == 0 or not expr[i - 1].isalnum()):
            parts.append(expr[start:i])
            start = i = match.end()
            continue
        i += 1
    return [*parts, expr[start:]]


def strip_wrappers(clause: str) -> str:
    """`label_replace(X > 1, "check", ...)` → `X > 1`; `absent(...)` clauses are not conditions."""
    clause = clause.strip()
    wrapped = re.match(r"label_replace\((.*),\s*\"[a-z_]+\",\s*\"[a-z_]*\",\s*\"\",\s*\"\"\)$", clause, re.S)
    return wrapped.group(1).strip() if wrapped else clause


def rules() -> tuple[dict[str, str], dict[str, str]]:
    alerts, records = {}, {}
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    alerts[rule["alert"]] = rule["expr"]
                else:
                    records[rule["record"]] = rule["expr"]
    return alerts, records


def conditions(expr: str, records: dict[str, str]) -> list[tuple[frozenset[str], str, float]]:
    """(metrics, comparison, threshold) for each way the expression can fire; `unless` parts only
    suppress, so they are not conditions."""
    firing = top_level(expr, "unless")[0]
    out: list[tuple[frozenset[str], str, float]] = []
    for clause in top_level(firing, "or"):
        clause = strip_wrappers(clause)
        if clause.startswith("absent("):
            continue
        found = COMPARISON.search(clause)
        if found is None:
            (record,) = metrics_of(clause) & set(records)
            out += conditions(records[record], records)
            continue
        left = clause[: found.start()]
        out.append((frozenset(metrics_of(left)), found.group(1), number(found.group(2))))
    return out


def colour(thresholds: dict[str, Any], value: float) -> str:
    """The colour Grafana gives `value`: the highest step whose value is at or below it."""
    steps = thresholds["steps"]
    picked = steps[0]["color"]
    for step in steps[1:]:
        if step["value"] <= value:
            picked = step["color"]
    return str(picked)


def draws(panel: dict[str, Any], op: str, threshold: float) -> bool:
    """The panel's thresholds have a step at the rule's number and colour the firing side red."""
    thresholds = panel["fieldConfig"]["defaults"]["thresholds"]
    values = {s["value"] for s in thresholds["steps"][1:]}
    eps = max(abs(threshold) * 1e-6, 1e-9)
    if op in (">", ">="):
        return threshold in values and colour(thresholds, threshold + eps) == "red" != colour(
            thresholds, threshold - eps
        )
    if op in ("<", "<="):
        return threshold in values and colour(thresholds, threshold - eps) == "red" != colour(
            thresholds, threshold + eps
        )
    # `x == 0` on a 0/1 metric: red at the value, not red one above it.
    return op == "==" and colour(thresholds, threshold) == "red" != colour(thresholds, threshold + 1)


ALERTS, RECORDS = rules()


def test_rules_are_read() -> None:
    assert len(ALERTS) >= 10
    assert all(conditions(expr, RECORDS) for expr in ALERTS.values())


@pytest.mark.parametrize("alert", sorted(ALERTS))
def test_every_alert_has_a_panel_with_its_threshold(alert: str) -> None:
    for wanted, op, threshold in conditions(ALERTS[alert], RECORDS):
        candidates = [p for p in panels() if any(wanted <= metrics_of(e) for e in exprs(p))]
        assert candidates, f"{alert}: no panel queries {sorted(wanted)}"
        assert any(draws(p, op, threshold) for p in candidates), (
            f"{alert}: no panel querying {sorted(wanted)} draws its threshold {op} {threshold} in red "
            f"(candidates: {[p['title'] for p in candidates]})"
        )
        for p in candidates:
            if p["type"] == "timeseries" and draws(p, op, threshold):
                assert p["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off", p["title"]


def test_the_checker_fails_a_wrong_threshold() -> None:
    panel = {
        "fieldConfig": {
            "defaults": {
                "thresholds": {"steps": [{"color": "green", "value": None}, {"color": "red", "value": 0.2}]}
            }
        }
    }
    assert draws(panel, ">=", 0.2)
    assert not draws(panel, ">=", 0.1)
    assert not draws(panel, "<", 0.2)
    assert conditions("max by (a) (steelthread_x) > 30 * 86400 unless on (a) steelthread_y > 1", {}) == [
        (frozenset({"steelthread_x"}), ">", 2592000.0)
    ]


def test_data_quality_is_plotted_per_feature() -> None:
    """The data-quality alert compares per-feature series; their panels keep the feature label."""
    breach = conditions(ALERTS["SteelthreadDataQualityBreach"], RECORDS)
    per_feature = {m for metrics, _, _ in breach for m in metrics if "_feature_" in m}
    assert len(per_feature) >= 3
    for metric in per_feature:
        for p in panels():
            for e in exprs(p):
                if metric in metrics_of(e):
                    assert "by (feature)" in e, f"{p['title']} aggregates {metric} over features"


def test_package_age_is_time_since_training() -> None:
    age = [p for p in panels() if any("steelthread_model_created_timestamp_seconds" in e for e in exprs(p))]
    assert age, "no panel plots the package's training time"
    assert all("time() -" in e for p in age for e in exprs(p) if "created_timestamp" in e)
    assert "steelthread_model_created_timestamp_seconds" in serving_metrics()


def test_alert_list_panel() -> None:
    (alertlist,) = [p for p in panels() if p["type"] == "alertlist"]
    assert alertlist["options"]["stateFilter"]["firing"] is True


def test_datasource_and_model_version_are_variables() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    version = variables["model_version"]
    assert version["type"] == "query"
    assert "model_version" in version["query"]["query"]
    text = json.dumps(dashboard())
    # "-- Grafana --" is Grafana's built-in annotation source, not a datasource instance.
    uids = set(re.findall(r'"uid": "([^"]*)"', text)) - {dashboard()["uid"], "-- Grafana --"}
    assert uids == {"${datasource}"}, f"hard-coded datasource uids: {uids}"
    for p in panels():
        for t in p.get("targets", []):
            assert t["datasource"]["uid"] == "${datasource}"
            monitored = {m for m in metrics_of(t["expr"]) if m.startswith("steelthread_monitor_")}
            if monitored - {"steelthread_monitor_last_run_timestamp_seconds"}:
                assert "$model_version" in t["expr"], f"{p['title']} ignores the model_version variable"


def test_dashboard_passes_grafanas_schema() -> None:
    """Round trip through the SDK's Dashboard model: nothing dropped or changed means every key is one
    Grafana's schema (or the panel plugin's) declares."""
    from grafana_foundation_sdk.cog import plugins
    from grafana_foundation_sdk.models.dashboard import Dashboard

    plugins.register_default_plugins()
    original = dashboard()
    back = json.loads(json.dumps(Dashboard.from_json(original).to_json(), default=lambda o: o.to_json()))
    problems: list[str] = []

    def compare(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict):
            if not isinstance(b, dict):
                problems.append(f"{path}: not an object after the round trip")
                return
            for key, value in a.items():
                if key not in b:
                    problems.append(f"{path}/{key}: not in Grafana's schema")
                else:
                    compare(value, b[key], f"{path}/{key}")
        elif isinstance(a, list):
            if not isinstance(b, list) or len(a) != len(b):
                problems.append(f"{path}: list changed")
                return
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                compare(x, y, f"{path}[{i}]")
        elif a is not None and a != b:
            problems.append(f"{path}: {a!r} became {b!r}")

    compare(original, back, "")
    assert not problems, problems
    assert original["schemaVersion"] >= 39


def test_datasource_is_the_compose_prometheus() -> None:
    doc = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (source,) = doc["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    compose = yaml.safe_load((REPO / "infra/compose.yaml").read_text())
    assert "127.0.0.1:9090:9090" in compose["services"]["prometheus"]["ports"]


def test_dashboard_provider_loads_the_mounted_folder() -> None:
    doc = yaml.safe_load((GRAFANA / "provisioning/dashboards/steelthread.yml").read_text())
    (provider,) = doc["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert dashboard()["uid"] == "steelthread-overview"


def test_every_plotted_metric_is_exported() -> None:
    known = serving_metrics() | monitoring_gauges() | {"up"}
    assert len(monitoring_gauges()) >= 10
    for p in panels():
        for expr in exprs(p):
            for metric in metrics_of(expr):
                assert metric in known, f"{p['title']}: {metric} is not exported by serving or monitoring"


def test_panels_have_unique_ids_titles_and_fit_the_grid() -> None:
    every = dashboard()["panels"]
    assert len({p["id"] for p in every}) == len(every)
    assert len({p["title"] for p in every}) == len(every)
    cells: set[tuple[int, int]] = set()
    for p in every:
        g = p["gridPos"]
        assert g["x"] >= 0, p["title"]
        assert g["x"] + g["w"] <= 24, p["title"]
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not area & cells, f"{p['title']} overlaps another panel"
        cells |= area
