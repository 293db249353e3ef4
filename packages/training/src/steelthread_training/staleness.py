"""The SteelthreadModelStale rule's threshold, derived from a staleness backtest (backtest.py).

`steelthread-train backtest --write-rule RULES` rewrites the alert's age and its summary from the backtest
just run (or, with `--from-table`, from a stored one), and the Grafana dashboard's model-age panel draws the
same threshold (`--write-dashboard`); tests/infra keeps the committed rule and dashboard equal to what this
module renders from the committed backtest table, so nobody edits the number by hand.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from steelthread_training.backtest import AlertAge, Backtest, alert_age
from steelthread_training.errors import TrainingError

ALERT = "SteelthreadModelStale"
BACKTEST_TABLE = Path("infra/prometheus/staleness/backtest.json")
"""The committed backtest the rule's threshold comes from (relative to the repository root)."""
_EXPR = re.compile(r"(steelthread_monitor_model_age_seconds\)\s*>\s*)\d+(\s*\*\s*86400)")
_SUMMARY = re.compile(r"(is older than )\d+( days)")


def _block(text: str) -> tuple[int, int]:
    """Where the alert's rule starts and ends in the rule file."""
    start = text.find(f"- alert: {ALERT}")
    if start < 0:
        raise TrainingError(f"the rule file has no `- alert: {ALERT}` rule")
    following = text.find("- alert:", start + 1)
    return start, len(text) if following < 0 else following


def render_rule(text: str, age: AlertAge) -> str:
    """The rule file with the alert's age threshold (days) and its summary set to `age.days`."""
    start, end = _block(text)
    block = text[start:end]
    new, n_expr = _EXPR.subn(rf"\g<1>{age.days}\g<2>", block)
    new, n_summary = _SUMMARY.subn(rf"\g<1>{age.days}\g<2>", new)
    if n_expr != 1 or n_summary != 1:
        raise TrainingError(
            f"{ALERT}'s rule must hold one `steelthread_monitor_model_age_seconds) > N * 86400` and one "
            "`is older than N days` to rewrite"
        )
    return text[:start] + new + text[end:]


def rule_days(text: str) -> int:
    """The age threshold (days) the rule file holds now."""
    start, end = _block(text)
    found = _EXPR.search(text[start:end])
    if found is None:
        raise TrainingError(f"{ALERT}'s rule has no `steelthread_monitor_model_age_seconds) > N * 86400`")
    return int(found.group(0)[len(found.group(1)) :].split("*")[0])


def write_rule(rules: Path, backtest: Backtest) -> AlertAge:
    """Rewrite `rules` in place from `backtest`; return the age written."""
    age = alert_age(backtest)
    try:
        text = rules.read_text(encoding="utf-8")
    except OSError as exc:
        raise TrainingError(f"cannot read rule file {rules}: {exc.strerror or exc}") from None
    rules.write_text(render_rule(text, age), encoding="utf-8")
    return age


AGE_METRIC = "steelthread_monitor_model_age_seconds"


def render_dashboard(text: str, age: AlertAge) -> str:
    """The dashboard JSON with the model-age panel's red threshold at `age.days` (in seconds)."""
    doc = json.loads(text)
    changed = 0
    for panel in doc.get("panels", []):
        if not any(AGE_METRIC in str(t.get("expr", "")) for t in panel.get("targets", [])):
            continue
        steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
        for step in steps:
            if step.get("color") == "red" and step.get("value") is not None:
                step["value"] = age.days * 86_400
                changed += 1
    if changed != 1:
        raise TrainingError(f"the dashboard must hold one red threshold on {AGE_METRIC}, found {changed}")
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_dashboard(dashboard: Path, backtest: Backtest) -> AlertAge:
    """Rewrite the dashboard's model-age threshold in place from `backtest`."""
    age = alert_age(backtest)
    try:
        text = dashboard.read_text(encoding="utf-8")
    except OSError as exc:
        raise TrainingError(f"cannot read dashboard {dashboard}: {exc.strerror or exc}") from None
    dashboard.write_text(render_dashboard(text, age), encoding="utf-8")
    return age
