"""The model-age alert's threshold is measured, not asserted: SteelthreadModelStale's age and the Grafana
panel's red line are what `steelthread-train backtest` derives from the committed staleness backtest
(infra/prometheus/staleness/backtest.json: the age at which the decay curve falls below the gate floor).

Regenerate both after a new backtest:

    steelthread-train backtest --out infra/prometheus/staleness/backtest.json \\
      --write-rule infra/prometheus/rules/steelthread-model.yml \\
      --write-dashboard infra/grafana/dashboards/steelthread.json
"""

from __future__ import annotations

import math
from pathlib import Path

from steelthread_training.backtest import Backtest, alert_age
from steelthread_training.staleness import BACKTEST_TABLE, render_dashboard, render_rule, rule_days

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "infra" / "prometheus" / "rules" / "steelthread-model.yml"
DASHBOARD = REPO / "infra" / "grafana" / "dashboards" / "steelthread.json"
TABLE = REPO / BACKTEST_TABLE


def committed() -> Backtest:
    return Backtest.from_json(TABLE.read_text(encoding="utf-8"))


def test_the_committed_backtest_is_a_real_decay_curve() -> None:
    table = committed()
    measured = [w for w in table.windows if math.isfinite(w.value)]
    assert len(measured) >= 6, "too short a history to say anything about age"
    assert table.train_rows >= 1_000
    assert all(w.rows >= 100 for w in measured)
    assert table.metric == "roc_auc"
    assert table.use_case == "credit"


def test_the_rule_holds_the_age_the_backtest_derives() -> None:
    text = RULES.read_text(encoding="utf-8")
    age = alert_age(committed())
    assert render_rule(text, age) == text, (
        f"SteelthreadModelStale must fire past {age.days} days ({age.basis}); regenerate (module docstring)"
    )
    assert rule_days(text) == age.days


def test_the_dashboard_draws_the_same_threshold() -> None:
    text = DASHBOARD.read_text(encoding="utf-8")
    assert render_dashboard(text, alert_age(committed())) == text


def test_the_runbook_points_to_the_derived_figure_not_a_number() -> None:
    runbook = (REPO / "runbooks" / "model-stale.md").read_text(encoding="utf-8")
    assert "30 days" not in runbook
    assert str(BACKTEST_TABLE) in runbook
    assert "steelthread-train backtest" in runbook
