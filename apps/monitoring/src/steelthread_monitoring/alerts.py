"""Which alert rules fire on a monitoring run's output, decided by Prometheus's own rule engine (`promtool`).

The rule files under infra/prometheus/rules are the only place alert thresholds live; everything that asks
"does this run need a person?" (the demo, the scheduled monitor workflow) asks this module, and this module
asks Prometheus. The job's textfile gauges become constant input series, labelled as node-exporter's
textfile collector would expose them and held long enough for the longest `for:` of the rule file; a
generated `promtool test rules` case expects every alert to stay silent, so promtool reports each alert that
fires, with the labels and annotations the real Prometheus would send. No PromQL is re-implemented here.

promtool prints its findings for people, so reading them back is checked: a second promtool run must
confirm exactly the alerts read back (labels and annotations included), and an output this module cannot
read fails loudly instead of reading as "nothing fired".

`SteelthreadMonitorNotRunning` compares the last run with the wall clock (`time()`), which starts at zero in
a rule test: it stays silent here, and a caller reports a run that did not finish from its exit code.
"""

from __future__ import annotations

import ast
import math
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from steelthread_monitoring.export import PREFIX

REPO = Path(__file__).resolve().parents[4]
RULES_DIR = REPO / "infra" / "prometheus" / "rules"
MODEL_RULES = RULES_DIR / "steelthread-model.yml"
PROMETHEUS_CONFIG = REPO / "infra" / "prometheus" / "prometheus.yml"
MONITOR_JOB = "steelthread-monitor"
REQUIRED_SAMPLE = f"{PREFIX}_rows_checked"
"""Written by every run that exports at all (an empty window too): without it, the file is not the job's."""
INSTALL_HINT = "install it with: make tools (or apt-get install -y prometheus)"

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"(\d+)(ms|[smhdwy])")
_CASE = re.compile(
    r"alertname: (?P<name>[^,\s]+), time: [^,]+,\s*exp:\[\],\s*got:\[(?P<got>.*?)\n\s*\]", re.DOTALL
)
_FIRED = re.compile(r"^\s*Labels:(\{.*\})\s*\n\s*Annotations:(\{.*\})\s*$", re.MULTILINE)
_PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


class AlertEvaluationError(RuntimeError):
    """The rules could not be evaluated on this textfile; the message is one readable line."""


class PromtoolMissingError(AlertEvaluationError):
    pass


@dataclass(frozen=True)
class FiredAlert:
    """One alert Prometheus would send: its rule's labels (severity, team, ...) and rendered annotations."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def runbook(self) -> str:
        return self.annotations.get("runbook_url", "-")


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def series_from_textfile(path: Path, points: int = 60) -> list[dict[str, str]]:
    """The textfile as promtool input series (one sample a minute, `points` + 1 of them), labelled as the
    scrape would label them. Raises ValueError for a file that is not a Prometheus text exposition."""
    out = []
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        for sample in family.samples:
            labels = {**sample.labels, "job": MONITOR_JOB, "instance": "node-exporter:9100"}
            body = ", ".join(f'{k}="{_label_value(v)}"' for k, v in sorted(labels.items()))
            value = float(sample.value)
            # promtool's `x` expansion takes only finite numbers; NaN and ±Inf are written out.
            values = f"{value!r}x{points}" if math.isfinite(value) else " ".join([repr(value)] * (points + 1))
            out.append({"series": f"{sample.name}{{{body}}}", "values": values})
    return out


def _rules(rules_file: Path) -> list[dict[str, Any]]:
    doc = yaml.safe_load(rules_file.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def alert_names(rules_file: Path = MODEL_RULES) -> list[str]:
    return sorted({rule["alert"] for rule in _rules(rules_file) if "alert" in rule})


def _seconds(duration: str) -> float:
    """A Prometheus duration ('10m', '1h30m') in seconds."""
    parts = _DURATION.findall(duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"{duration!r} is not a Prometheus duration")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def eval_minutes(rules_file: Path = MODEL_RULES) -> int:
    """When to look: two evaluations after the longest `for:`, so every held condition has fired."""
    longest = max((_seconds(str(rule.get("for", "0s"))) for rule in _rules(rules_file)), default=0.0)
    return math.ceil(longest / 60) + 2


def _label_set(text: str) -> dict[str, str]:
    """`{a="x", b="y\\n"}` as promtool prints a label set (Go-quoted values) → a dict."""
    return {name: ast.literal_eval(f'"{value}"') for name, value in _PAIR.findall(text)}


def parse_fired(output: str) -> list[FiredAlert]:
    """The alerts a `promtool test rules` run reported as firing where none was expected."""
    fired = []
    for case in _CASE.finditer(output):
        for label_text, annotation_text in _FIRED.findall(case.group("got")):
            fired.append(FiredAlert(case.group("name"), _label_set(label_text), _label_set(annotation_text)))
    return sorted(fired, key=lambda a: (a.name, sorted(a.labels.items())))


def external_labels(config: Path = PROMETHEUS_CONFIG) -> dict[str, str]:
    """The deployment's external labels: the rules render `$externalLabels` (the runbook base) from them,
    so the workflow's alerts carry the same absolute runbook URLs as Prometheus's."""
    loaded = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    labels = (loaded.get("global") or {}).get("external_labels") or {}
    return {str(k): str(v) for k, v in labels.items()}


def _test(
    rules_file: Path,
    labels: dict[str, str],
    series: list[dict[str, str]],
    minutes: int,
    cases: list[dict[str, Any]],
) -> str:
    return yaml.safe_dump(
        {
            "rule_files": [str(rules_file.resolve())],
            "evaluation_interval": "1m",
            "tests": [
                {
                    "interval": "1m",
                    "external_labels": labels,
                    "input_series": series,
                    "alert_rule_test": [{"eval_time": f"{minutes}m", **case} for case in cases],
                }
            ],
        }
    )


def _promtool(promtool: str, workdir: Path, name: str, text: str) -> subprocess.CompletedProcess[str]:
    path = workdir / name
    path.write_text(text, encoding="utf-8")
    return subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=120, check=False
    )


def _tail(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    return " | ".join(lines[-3:]) or f"exit code {result.returncode}"


def _series(textfile: Path, points: int) -> list[dict[str, str]]:
    try:
        series = series_from_textfile(textfile, points)
    except OSError as exc:
        raise AlertEvaluationError(f"cannot read {textfile}: {exc.strerror or exc}") from None
    except ValueError as exc:  # the parser's errors, UnicodeDecodeError included
        raise AlertEvaluationError(f"{textfile} is not a Prometheus text exposition: {exc}") from None
    if not any(s["series"].startswith(REQUIRED_SAMPLE + "{") for s in series):
        raise AlertEvaluationError(
            f"{textfile} has no {REQUIRED_SAMPLE} sample: not a textfile written by steelthread-monitor run"
        )
    return series


def evaluate(textfile: Path, rules_file: Path = MODEL_RULES) -> list[FiredAlert]:
    """Every alert of `rules_file` that fires once the gauges held still past the rules' longest `for:`."""
    promtool = shutil.which("promtool")
    if promtool is None:
        raise PromtoolMissingError(f"promtool not found; {INSTALL_HINT}")
    try:
        names, minutes = alert_names(rules_file), eval_minutes(rules_file)
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise AlertEvaluationError(f"cannot read the alert rules {rules_file}: {exc}") from None
    try:
        labels = external_labels()
    except (OSError, AttributeError, yaml.YAMLError) as exc:
        raise AlertEvaluationError(f"cannot read the external labels in {PROMETHEUS_CONFIG}: {exc}") from None
    series = _series(textfile, minutes + 5)
    with tempfile.TemporaryDirectory(prefix="steelthread-alerts-") as tmp:
        silent = [{"alertname": name, "exp_alerts": []} for name in names]
        result = _promtool(
            promtool, Path(tmp), "fired.yml", _test(rules_file, labels, series, minutes, silent)
        )
        if result.returncode == 0:
            return []
        fired = parse_fired(result.stdout + result.stderr)
        if not fired:
            raise AlertEvaluationError(f"promtool test rules failed: {_tail(result)}")
        expected = [
            {
                "alertname": name,
                "exp_alerts": [
                    {
                        "exp_labels": {k: v for k, v in a.labels.items() if k != "alertname"},
                        "exp_annotations": a.annotations,
                    }
                    for a in fired
                    if a.name == name
                ],
            }
            for name in names
        ]
        check = _promtool(
            promtool, Path(tmp), "confirm.yml", _test(rules_file, labels, series, minutes, expected)
        )
        if check.returncode != 0:
            raise AlertEvaluationError(
                f"promtool did not confirm the alerts read from its output: {_tail(check)}"
            )
    return fired


def firing_alerts(textfile: Path, rules_file: Path = MODEL_RULES) -> list[str]:
    """Names of the alerts that fire (see evaluate)."""
    return sorted({alert.name for alert in evaluate(textfile, rules_file)})
