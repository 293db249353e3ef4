"""The monitor workflow's alert decision (.github/scripts/monitor_alerts.py), run as the workflow runs it on
textfiles written by the monitoring job's own export function, judged by promtool against the real rule
file. The cases are the alerts' own conditions, including the one two evaluators used to disagree on: one
column 20 % out of range while the overall out-of-range share stays small fires the data-quality alert, as
Prometheus does."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from steelthread_monitoring.alerts import external_labels
from steelthread_monitoring.export import build_registry, write_textfile
from steelthread_monitoring.summary import (
    DriftSummary,
    PerformanceSummary,
    QualitySummary,
    SkewSummary,
    Summary,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".github" / "scripts" / "monitor_alerts.py"
RULES = ROOT / "infra" / "prometheus" / "rules" / "steelthread-model.yml"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
FEATURES = ("age", "income", "debt_ratio", "tenure_months", "open_accounts")
DAY = 86400.0


@pytest.fixture(scope="module", autouse=True)
def promtool() -> str:
    """A missing promtool fails these tests with the install command; it never skips them."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found on PATH; install it with: make tools", pytrace=False)
    return path


def summary(
    *,
    out_of_range: dict[str, float] | None = None,
    feature_drift: dict[str, float] | None = None,
    drift_share: float = 0.0,
    prediction_drift: float = 0.02,
    roc_auc: float | None = 0.80,
    model_age_seconds: float = 3 * DAY,
    label_coverage: float = 0.8,
    rows: int = 2000,
) -> Summary:
    """A healthy run of the job, changed only where a test says so."""
    oor = {f: 0.0 for f in FEATURES} | (out_of_range or {})
    return Summary(
        run_id="test-run",
        started_at=NOW,
        finished_at=NOW,
        window_start=NOW,
        window_end=NOW,
        reference_path="reference.parquet",
        model_name="model-a",
        model_version="7",
        model_age_seconds=model_age_seconds,
        rows=rows,
        drift=DriftSummary(
            method_numerical="wasserstein",
            method_categorical="jensenshannon",
            threshold=0.1,
            feature_scores={f: 0.01 for f in FEATURES} | (feature_drift or {}),
            drift_share=drift_share,
            prediction_score=prediction_drift,
        ),
        quality=QualitySummary(
            missing_share={f: 0.0 for f in FEATURES},
            reference_missing_share={f: 0.0 for f in FEATURES},
            out_of_range_share=oor,
            overall_out_of_range_share=sum(oor.values()) / len(oor),
        ),
        performance=PerformanceSummary(
            cohort_rows=1250,
            labelled_rows=round(1250 * label_coverage),
            label_coverage=label_coverage,
            min_labels=200,
            evaluated=roc_auc is not None,
            reason=None if roc_auc is not None else "too few labels",
            current={"roc_auc": roc_auc} if roc_auc is not None else {},
            reference={"roc_auc": 0.80} if roc_auc is not None else {},
        ),
        skew=SkewSummary(sampled=200, compared=200, skewed_rows=0, skew_share=0.0),
    )


def textfile(tmp_path: Path, run: Summary) -> Path:
    path = tmp_path / "textfile" / "steelthread_monitor.prom"
    write_textfile(build_registry(run), path)
    return path


def judge(
    tmp_path: Path, prom: Path, exit_code: int = 0, rules: Path = RULES, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run the script with the workflow's options; return the process and what it wrote."""
    out, body, step_summary = tmp_path / "github_output", tmp_path / "issue.md", tmp_path / "summary.md"
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--textfile",
            str(prom),
            "--rules",
            str(rules),
            "--exit-code",
            str(exit_code),
            "--run-url",
            "https://example.invalid/runs/1",
            "--issue-body",
            str(body),
            "--summary",
            str(step_summary),
            "--github-output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    return result, {
        "output": out.read_text(encoding="utf-8") if out.exists() else None,
        "body": body.read_text(encoding="utf-8") if body.exists() else "",
        "summary": step_summary.read_text(encoding="utf-8") if step_summary.exists() else "",
    }


def fired(body: str) -> list[str]:
    return sorted(line.split("**")[1] for line in body.splitlines() if line.startswith("- **Steelthread"))


def test_a_healthy_run_fires_nothing(tmp_path: Path) -> None:
    result, wrote = judge(tmp_path, textfile(tmp_path, summary()))
    assert result.returncode == 0, result.stderr
    assert wrote["output"] == "alert=false\n"
    assert "0 alert(s) firing" in wrote["summary"]
    assert fired(wrote["body"]) == []
    assert result.stdout.startswith("monitor_alerts: alert=false")


def test_one_column_twenty_percent_out_of_range_fires_the_data_quality_alert(tmp_path: Path) -> None:
    run = summary(out_of_range={"age": 0.20})
    assert run.quality.overall_out_of_range_share < 0.05  # the overall share alone would say "healthy"
    result, wrote = judge(tmp_path, textfile(tmp_path, run))
    assert result.returncode == 0, result.stderr
    assert wrote["output"] == "alert=true\n"
    assert fired(wrote["body"]) == ["SteelthreadDataQualityBreach"]
    line = next(x for x in wrote["body"].splitlines() if "SteelthreadDataQualityBreach" in x)
    assert "(page; check=out_of_range, model_name=model-a, model_version=7)" in line
    url = f"{external_labels()['runbook_base']}/data-quality-breach.md"  # absolute: clickable in the issue
    assert f"[{url}]({url})" in line
    assert "Data-quality breach (out_of_range) for model model-a v7" in wrote["summary"]


def test_input_drift_fires_and_explains_the_prediction_drift_away(tmp_path: Path) -> None:
    run = summary(drift_share=0.4, feature_drift={"income": 0.6}, prediction_drift=0.3)
    result, wrote = judge(tmp_path, textfile(tmp_path, run))
    assert result.returncode == 0, result.stderr
    assert wrote["output"] == "alert=true\n"
    assert fired(wrote["body"]) == ["SteelthreadInputDrift"]
    assert "runbooks/input-drift.md" in wrote["body"]


def test_prediction_drift_alone_fires_its_own_alert(tmp_path: Path) -> None:
    result, wrote = judge(tmp_path, textfile(tmp_path, summary(prediction_drift=0.3)))
    assert result.returncode == 0, result.stderr
    assert fired(wrote["body"]) == ["SteelthreadPredictionDrift"]


def test_a_performance_drop_fires(tmp_path: Path) -> None:
    result, wrote = judge(tmp_path, textfile(tmp_path, summary(roc_auc=0.70)))
    assert result.returncode == 0, result.stderr
    assert wrote["output"] == "alert=true\n"
    assert fired(wrote["body"]) == ["SteelthreadPerformanceDrop"]
    assert "runbooks/performance-drop.md" in wrote["body"]


def test_a_small_performance_dip_and_missing_labels_fire_nothing(tmp_path: Path) -> None:
    for name, run, code in (("dip", summary(roc_auc=0.78), 0), ("no-labels", summary(roc_auc=None), 5)):
        (tmp_path / name).mkdir()
        result, wrote = judge(tmp_path / name, textfile(tmp_path / name, run), exit_code=code)
        assert result.returncode == 0, result.stderr
        assert wrote["output"] == "alert=false\n", name


def test_the_longest_for_duration_is_waited_out(tmp_path: Path) -> None:
    """SteelthreadModelStale holds for an hour before it fires: the series must last past it."""
    from steelthread_training.staleness import rule_days

    rules = Path(__file__).resolve().parents[2] / "infra" / "prometheus" / "rules" / "steelthread-model.yml"
    stale = (rule_days(rules.read_text(encoding="utf-8")) + 10) * DAY  # past the age the backtest derived
    result, wrote = judge(tmp_path, textfile(tmp_path, summary(model_age_seconds=stale)))
    assert result.returncode == 0, result.stderr
    assert fired(wrote["body"]) == ["SteelthreadModelStale"]


def test_a_nan_gauge_is_judged_as_prometheus_judges_it(tmp_path: Path) -> None:
    """NaN compares false in PromQL: no alert, and no crash writing the series for promtool."""
    run = summary(feature_drift={"income": math.nan})
    result, wrote = judge(tmp_path, textfile(tmp_path, run))
    assert result.returncode == 0, result.stderr
    assert wrote["output"] == "alert=false\n"


def test_an_incomplete_monitoring_run_is_an_alert_naming_its_exit_code(tmp_path: Path) -> None:
    result, wrote = judge(tmp_path, tmp_path / "never-written.prom", exit_code=3)
    assert result.returncode == 0, result.stderr
    assert wrote["output"] == "alert=true\n"
    assert "exited with code 3 (MISSING_REFERENCE)" in wrote["body"]
    assert "runbooks/monitor-not-running.md" in wrote["body"]
    assert "docs/monitoring.md#exit-codes" in wrote["body"]


def test_an_empty_window_is_judged_and_fires_monitor_window_empty(tmp_path: Path) -> None:
    """Exit 4 still exports its counts: the rules judge them, and the empty window is an alert with its own
    runbook instead of a silent run."""
    result, wrote = judge(tmp_path, textfile(tmp_path, summary(rows=0)), exit_code=4)
    assert result.returncode == 0, result.stderr
    assert wrote["output"] == "alert=true\n"
    assert fired(wrote["body"]) == ["SteelthreadMonitorWindowEmpty"]
    url = f"{external_labels()['runbook_base']}/monitor-window-empty.md"
    assert f"[{url}]({url})" in wrote["body"]
    assert "did not complete" not in wrote["body"]


def test_a_label_starved_cohort_fires_labels_starved(tmp_path: Path) -> None:
    result, wrote = judge(tmp_path, textfile(tmp_path, summary(label_coverage=0.1)))
    assert result.returncode == 0, result.stderr
    assert fired(wrote["body"]) == ["SteelthreadLabelsStarved"]
    line = next(x for x in wrote["body"].splitlines() if "SteelthreadLabelsStarved" in x)
    assert "Only 10% of the predictions in the matured cohort" in line
    assert f"{external_labels()['runbook_base']}/labels-starved.md" in line
    (tmp_path / "covered").mkdir()
    result, wrote = judge(tmp_path / "covered", textfile(tmp_path / "covered", summary(label_coverage=0.5)))
    assert wrote["output"] == "alert=false\n", wrote["body"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "has no steelthread_monitor_rows_checked sample"),
        ("node_load1 0.5\n", "has no steelthread_monitor_rows_checked sample"),
        ("steelthread_monitor_rows_checked{x} not-a-number\n", "is not a Prometheus text exposition"),
        (None, "cannot read"),
    ],
    ids=["empty", "foreign", "garbage", "missing"],
)
def test_a_bad_textfile_is_one_line_exit_3_and_still_an_alert(
    tmp_path: Path, content: str | None, message: str
) -> None:
    prom = tmp_path / "steelthread_monitor.prom"
    if content is not None:
        prom.write_text(content, encoding="utf-8")
    result, wrote = judge(tmp_path, prom)
    assert result.returncode == 3
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("monitor_alerts: error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert wrote["output"] == "alert=true\n"
    assert "alert rules not evaluated" in wrote["body"]
    assert message in wrote["body"]


def test_a_missing_promtool_is_one_line_exit_3(tmp_path: Path) -> None:
    prom = textfile(tmp_path, summary())
    env = {**os.environ, "PATH": str(tmp_path / "empty-bin")}
    result, wrote = judge(tmp_path, prom, env=env)
    assert result.returncode == 3
    assert result.stderr.strip() == (
        "monitor_alerts: error: promtool not found; install it with: make tools "
        "(or apt-get install -y prometheus)"
    )
    assert wrote["output"] == "alert=true\n"


def test_a_broken_rule_file_is_one_line_exit_3(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: max(\n", encoding="utf-8"
    )
    result, wrote = judge(tmp_path, textfile(tmp_path, summary()), rules=rules)
    assert result.returncode == 3
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "promtool test rules failed" in result.stderr
    assert wrote["output"] == "alert=true\n"


def test_labels_and_annotations_are_read_back_exactly(tmp_path: Path) -> None:
    """Quotes, backslashes and non-ASCII in what promtool prints survive the read-back (which a second
    promtool run confirms)."""
    rules = tmp_path / "rules.yml"
    rules.write_text(
        """\
groups:
  - name: odd
    rules:
      - alert: OddText
        expr: max by (model_name) (steelthread_monitor_rows_checked) > 0
        labels:
          severity: 'say "hi"'
        annotations:
          summary: 'back\\slash, "quotes" and naïve {{ $labels.model_name }}'
          runbook_url: https://runbooks.example.invalid/odd-text
""",
        encoding="utf-8",
    )
    result, wrote = judge(tmp_path, textfile(tmp_path, summary()), rules=rules)
    assert result.returncode == 0, result.stderr
    line = next(x for x in wrote["body"].splitlines() if x.startswith("- **OddText**"))
    assert '(say "hi"; model_name=model-a)' in line
    assert 'back\\slash, "quotes" and naïve model-a' in line
    assert "[https://runbooks.example.invalid/odd-text](https://runbooks.example.invalid/odd-text)" in line


def test_the_workflow_passes_the_rule_file_and_no_threshold_copy_exists() -> None:
    workflow = (ROOT / ".github" / "workflows" / "monitor.yml").read_text(encoding="utf-8")
    assert "--rules infra/prometheus/rules/steelthread-model.yml" in workflow
    assert "ensure-tools.sh promtool" in workflow
    assert not (ROOT / ".github" / "monitor-alerts.json").exists()
