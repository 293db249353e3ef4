"""The staleness backtest (backtest.py, staleness.py): the model is trained on the labels known at T only,
every later window is scored, the alert age is the first window below the gate's floor (or the horizon
when none is), and the rule writer changes exactly the stale alert's threshold.

A synthetic frame whose truth turns over time (the signal's weight fades and a new one grows), so the decay
is known; no Feast, no MLflow.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from steelthread_contracts.package import Task
from steelthread_training.backtest import (
    LABEL_TIME,
    Backtest,
    Window,
    alert_age,
    backtest,
    decay_plot,
    with_label_times,
)
from steelthread_training.config import GateConfig, LightGBMConfig, TrainingConfig, ValidationConfig
from steelthread_training.errors import TrainingError
from steelthread_training.frame import LABEL, REQUEST_ID, TIME, FrameSpec
from steelthread_training.staleness import render_rule, rule_days

SPEC = FrameSpec(task=Task.BINARY, features=("old", "new", "noise"))
CONFIG = TrainingConfig(
    validation=ValidationConfig(min_rows=100, min_positives=10),
    lightgbm=LightGBMConfig(n_estimators=80, num_threads=1, early_stopping_rounds=10),
    gate=GateConfig(min_roc_auc=0.7),
)
START = pd.Timestamp("2025-01-01", tz="UTC")


def drifting_frame(n: int = 12_000, days: int = 400, seed: int = 0) -> pd.DataFrame:
    """The label follows `old` at first and `new` by the end; labels arrive 20 to 60 days later."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, days, n))
    share = t / days
    old, new, noise = rng.normal(size=(3, n))
    logit = 2.5 * (1 - share) * old + 2.5 * share * new - 1.0
    frame = pd.DataFrame({"old": old, "new": new, "noise": noise})
    frame[LABEL] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    frame[TIME] = (START + pd.to_timedelta(t, unit="D")).astype("datetime64[us, UTC]")
    frame[LABEL_TIME] = frame[TIME] + pd.to_timedelta(rng.uniform(20, 60, n), unit="D")
    frame[REQUEST_ID] = [f"r{i}" for i in range(n)]
    return frame


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return drifting_frame()


@pytest.fixture(scope="module")
def result(frame: pd.DataFrame) -> Backtest:
    return backtest(
        frame,
        CONFIG,
        3,
        trained_at=(START + pd.Timedelta(days=100)).to_pydatetime(),
        window_days=30,
        spec=SPEC,
    )


def test_the_model_learns_only_from_labels_that_had_arrived(frame: pd.DataFrame, result: Backtest) -> None:
    at = START + pd.Timedelta(days=100)
    known = (frame[TIME] < at) & (frame[LABEL_TIME] <= at)
    assert result.train_rows == int(known.sum())
    assert result.train_rows < int((frame[TIME] < at).sum()), "some labels were still on their way at T"


def test_every_later_window_is_scored_by_age(frame: pd.DataFrame, result: Backtest) -> None:
    ages = [w.age_days for w in result.windows]
    assert ages == [30.0 * k for k in range(len(ages))]
    assert sum(w.rows for w in result.windows) == int((frame[TIME] >= START + pd.Timedelta(days=100)).sum())
    values = [w.value for w in result.windows if math.isfinite(w.value)]
    assert values[0] > 0.75 > values[-1], "the truth turned: the curve must fall"
    assert result.metric == "roc_auc"
    assert result.floor == pytest.approx(0.7)


def test_the_alert_age_is_the_first_window_below_the_floor(result: Backtest) -> None:
    first = next(w for w in result.windows if math.isfinite(w.value) and w.value < result.floor)
    assert all(w.value >= result.floor for w in result.windows if w.age_days < first.age_days)
    age = alert_age(result)
    assert age.basis == "first breach"
    assert age.days == int(first.age_days)


def test_no_breach_gives_the_horizon_the_backtest_measured() -> None:
    windows = tuple(
        Window(start=f"w{k}", end="", age_days=30.0 * k, rows=500, value=0.8, breached=False)
        for k in range(4)
    )
    flat = Backtest("roc_auc", True, 0.7, "t", 1000, 30, 0, windows)
    age = alert_age(flat)
    assert age.basis == "horizon"
    assert age.days == 120
    with pytest.raises(TrainingError, match="no window"):
        alert_age(Backtest("roc_auc", True, 0.7, "t", 1000, 30, 0, ()))


def test_the_backtest_round_trips_through_its_json_and_plots(result: Backtest) -> None:
    again = Backtest.from_json(result.to_json())
    assert alert_age(again) == alert_age(result)
    assert [w.rows for w in again.windows] == [w.rows for w in result.windows]
    assert decay_plot(result).startswith(b"\x89PNG")


def test_label_times_come_from_the_labels_table(frame: pd.DataFrame) -> None:
    labels = frame[[REQUEST_ID, LABEL_TIME]].rename(columns={LABEL_TIME: "arrived"})
    joined = with_label_times(frame.drop(columns=[LABEL_TIME]), labels, REQUEST_ID, "arrived")
    assert joined[LABEL_TIME].equals(frame[LABEL_TIME])
    with pytest.raises(TrainingError, match="no label arrival"):
        with_label_times(frame.drop(columns=[LABEL_TIME]), labels.iloc[1:], REQUEST_ID, "arrived")


RULES = """groups:
  - name: x
    rules:
      - alert: SteelthreadSkew
        expr: max by (a) (steelthread_monitor_skew_share) > 30
        annotations:
          summary: "is older than 30 days"
      - alert: SteelthreadModelStale
        expr: max by (model_name, model_version) (steelthread_monitor_model_age_seconds) > 30 * 86400
        annotations:
          summary: "Model {{ $labels.model_name }} is older than 30 days"
      - alert: SteelthreadMonitorNotRunning
        expr: time() - max (steelthread_monitor_last_run_timestamp_seconds) > 2 * 86400
"""


def test_the_rule_writer_changes_only_the_stale_alerts_threshold(result: Backtest) -> None:
    age = alert_age(result)
    text = render_rule(RULES, age)
    assert rule_days(text) == age.days
    assert f"(steelthread_monitor_model_age_seconds) > {age.days} * 86400" in text
    assert f"is older than {age.days} days" in text
    assert text.count("is older than 30 days") == 1, "the other alert keeps its text"
    assert "> 2 * 86400" in text
    assert render_rule(text, age) == text, "idempotent"
    with pytest.raises(TrainingError, match="SteelthreadModelStale"):
        render_rule(RULES.replace("- alert: SteelthreadModelStale", "- alert: Other"), age)


def test_the_cli_writes_rule_and_dashboard_from_a_stored_backtest(result: Backtest, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from steelthread_training import cli_train

    table = tmp_path / "backtest.json"
    table.write_text(result.to_json())
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    dashboard = tmp_path / "dashboard.json"
    panel = {
        "targets": [{"expr": "max (steelthread_monitor_model_age_seconds)"}],
        "fieldConfig": {
            "defaults": {
                "thresholds": {"steps": [{"color": "green", "value": None}, {"color": "red", "value": 1}]}
            }
        },
    }
    dashboard.write_text(json.dumps({"panels": [panel]}, indent=2) + "\n")
    out = CliRunner().invoke(
        cli_train.app,
        [
            "backtest",
            "--from-table",
            str(table),
            "--write-rule",
            str(rules),
            "--write-dashboard",
            str(dashboard),
        ],
        env={"STEELTHREAD_DATA_DIR": str(tmp_path)},
    )
    assert out.exit_code == 0, out.output
    days = alert_age(result).days
    assert f"model-age alert threshold: {days} days (first breach)" in out.output
    assert rule_days(rules.read_text()) == days
    steps = json.loads(dashboard.read_text())["panels"][0]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[1]["value"] == days * 86_400
    missing = CliRunner().invoke(cli_train.app, ["backtest", "--from-table", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2
