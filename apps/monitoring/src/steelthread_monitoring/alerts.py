"""Which alert rules fire on a monitoring run's output, evaluated by Prometheus's own `promtool`.

The job's textfile gauges become constant input series for an hour, exactly as Prometheus would scrape them
through node-exporter's textfile collector, and `promtool test rules` evaluates the real rule files (with
their `for:` durations) at 30 minutes. No hand-written re-implementation of PromQL is involved.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[4]
RULES_DIR = REPO / "infra" / "prometheus" / "rules"
MODEL_RULES = RULES_DIR / "steelthread-model.yml"
MONITOR_JOB = "steelthread-monitor"
_FIRED = re.compile(r"alertname: (\w+), time: [^,]+,\s*\n?\s*exp:\[\],\s*\n?\s*got:\[")


class PromtoolMissingError(RuntimeError):
    pass


def series_from_textfile(path: Path) -> list[dict[str, str]]:
    """The textfile as promtool input series, labelled as the scrape would label them."""
    out = []
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            labels = {**sample.labels, "job": MONITOR_JOB, "instance": "node-exporter:9100"}
            body = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            out.append({"series": f"{sample.name}{{{body}}}", "values": f"{sample.value!r}x60"})
    return out


def alert_names(rules_file: Path = MODEL_RULES) -> list[str]:
    doc = yaml.safe_load(rules_file.read_text())
    return sorted({r["alert"] for g in doc["groups"] for r in g["rules"] if "alert" in r})


def firing_alerts(textfile: Path, rules_file: Path = MODEL_RULES) -> list[str]:
    """Names of the alerts that are firing 30 minutes into a window where the gauges hold still."""
    promtool = shutil.which("promtool")
    if promtool is None:
        raise PromtoolMissingError("promtool not found; install it with: apt-get install -y prometheus")
    names = alert_names(rules_file)
    test = {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series_from_textfile(textfile),
                "alert_rule_test": [{"alertname": n, "eval_time": "30m", "exp_alerts": []} for n in names],
            }
        ],
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fired.yml"
        path.write_text(yaml.safe_dump(test))
        result = subprocess.run(
            [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=120, check=False
        )
    output = result.stdout + result.stderr
    fired = sorted(set(_FIRED.findall(output)) & set(names))
    if result.returncode != 0 and not fired:
        raise RuntimeError(f"promtool failed: {output.strip()[-500:]}")
    return fired


def runbook_for(alert: str, rules_dir: Path = RULES_DIR) -> str:
    for rules_file in sorted(rules_dir.glob("*.yml")):
        doc = yaml.safe_load(rules_file.read_text())
        for group in doc["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == alert:
                    return str(rule.get("annotations", {}).get("runbook_url", "-"))
    return "-"
