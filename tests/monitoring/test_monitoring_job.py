"""The monitoring job on synthetic deployments: what it finds, what it writes, how it fails.

The synthetic data is written with the active use case's names; `PLAN` says which column each scenario
changes, so these assertions hold for any use case a fork declares. Performance is asserted for the active
use case's task (`QUALITY`: its headline metric, its gauge and which way is better); what only one task
has (a label that is the same class everywhere) uses a fixture use case of that task (task_usecases.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from monitoring.task_usecases import BINARY
from prometheus_client.parser import text_string_to_metric_families

from steelthread_contracts import FeedbackRecord, PredictionLogRecord
from steelthread_contracts.package import Task
from steelthread_monitoring.analysis import PERFORMANCE_METRICS, analyse_performance
from steelthread_monitoring.errors import (
    EmptyWindowError,
    ExitCode,
    InvalidInputError,
    MissingReferenceError,
)
from steelthread_monitoring.job import RunOptions, run_monitoring
from steelthread_monitoring.reference import load_reference
from steelthread_monitoring.skew import callable_source
from steelthread_monitoring.summary import Summary
from steelthread_monitoring.synthetic import Deployment, offline_features_for, plan, write_deployment
from steelthread_monitoring.window import read_window

PLAN = plan()


@dataclass(frozen=True)
class Quality:
    """How a task's performance is read: its headline metric, the gauge that exports it, which way is
    better."""

    metric: str
    gauge: str
    higher_is_better: bool

    def loss(self, reference: float, current: float) -> float:
        """How much worse `current` is than `reference` (negative: better), relative for an error."""
        if self.higher_is_better:
            return reference - current
        return current / reference - 1.0


QUALITIES = {
    Task.BINARY: Quality("roc_auc", "steelthread_monitor_performance", higher_is_better=True),
    Task.REGRESSION: Quality("mae", "steelthread_monitor_regression_performance", higher_is_better=False),
}
QUALITY = QUALITIES[PLAN.task]


def gauges(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def gauge(path: Path, name: str, **labels: str) -> float:
    wanted = {"model_name": PLAN.model_name, "model_version": "3", **labels}
    return gauges(path)[(name, tuple(sorted(wanted.items())))]


def test_synthetic_files_follow_the_contracts(scenario_runs: dict[str, Any]) -> None:
    deployment = scenario_runs["none"].deployment
    log = next(deployment.log_dir.glob("predictions-*.jsonl")).read_text().splitlines()
    feedback = next(deployment.feedback_dir.glob("feedback-*.jsonl")).read_text().splitlines()
    for line in log[:50]:
        PredictionLogRecord.model_validate_json(line)
    for line in feedback[:50]:
        FeedbackRecord.model_validate_json(line)


def test_clean_window_finds_nothing(scenario_runs: dict[str, Any]) -> None:
    run = scenario_runs["none"]
    summary = run.outcome.summary
    assert run.outcome.exit_code is ExitCode.OK
    assert summary.rows == 2000
    assert summary.drift.drifted == []
    assert summary.drift.drift_share == 0.0
    assert summary.drift.prediction_score is not None
    assert summary.drift.prediction_score < 0.1
    assert summary.quality.overall_missing_share == 0.0
    assert summary.quality.new_categories == {}
    assert summary.performance.evaluated
    assert set(summary.performance.current) == set(PERFORMANCE_METRICS[PLAN.task])
    current, reference = summary.performance.current, summary.performance.reference
    assert abs(QUALITY.loss(reference[QUALITY.metric], current[QUALITY.metric])) < 0.05
    assert summary.skew is not None
    assert summary.skew.skew_share == 0.0
    assert summary.skew.compared == 1000


def test_input_shift_drifts_the_shifted_column_only(scenario_runs: dict[str, Any]) -> None:
    summary = scenario_runs["input_shift"].outcome.summary
    assert summary.drift.drifted == [PLAN.shift_column]
    assert summary.drift.feature_scores[PLAN.shift_column] > 1.0, "shifted by 1.5 standard deviations"
    assert summary.drift.drift_share == pytest.approx(1 / len(PLAN.monitored))
    assert summary.drift.prediction_drifted


def test_new_category_is_named(scenario_runs: dict[str, Any]) -> None:
    quality = scenario_runs["new_category"].outcome.summary.quality
    assert PLAN.new_category_column is not None
    assert quality.new_categories == {PLAN.new_category_column: [PLAN.held_out]}
    assert 0.1 < quality.new_category_share[PLAN.new_category_column] < 0.2


def test_missing_values_are_measured_per_column(scenario_runs: dict[str, Any]) -> None:
    quality = scenario_runs["missing_values"].outcome.summary.quality
    assert 0.35 < quality.missing_share[PLAN.missing_column] < 0.45
    assert quality.missing_share[PLAN.shift_column] == 0.0
    assert quality.reference_missing_share[PLAN.missing_column] == 0.0


def test_label_shift_worsens_the_tasks_quality(scenario_runs: dict[str, Any]) -> None:
    """ROC AUC drops for a binary model; the error grows by half for a regression model."""
    performance = scenario_runs["label_shift"].outcome.summary.performance
    worse = QUALITY.loss(performance.reference[QUALITY.metric], performance.current[QUALITY.metric])
    assert worse > (0.1 if QUALITY.higher_is_better else 0.5)


def test_skew_names_the_feature(scenario_runs: dict[str, Any]) -> None:
    skew = scenario_runs["skew"].outcome.summary.skew
    assert skew is not None
    assert skew.skew_share == 1.0
    assert skew.feature_skew_share[PLAN.skew_column] == 1.0
    assert skew.feature_skew_share[PLAN.shift_column] == 0.0


def test_outputs_per_run(scenario_runs: dict[str, Any]) -> None:
    run = scenario_runs["input_shift"]
    run_dir = run.outcome.run_dir
    summary = Summary.model_validate_json((run_dir / "summary.json").read_text())
    assert summary == run.outcome.summary
    assert summary.report_html == str(run_dir / "report.html")
    html = (run_dir / "report.html").read_text()
    assert "Wasserstein distance (normed)" in html
    assert PLAN.shift_column in html
    assert (run_dir / "performance.html").is_file()


def test_textfile_holds_every_gauge(scenario_runs: dict[str, Any], window_end: datetime) -> None:
    run = scenario_runs["input_shift"]
    path = run.textfile
    summary = run.outcome.summary
    assert gauge(path, "steelthread_monitor_rows_checked") == 2000
    assert gauge(path, "steelthread_monitor_drift_share") == pytest.approx(1 / len(PLAN.monitored))
    assert gauge(path, "steelthread_monitor_feature_drift_score", feature=PLAN.shift_column) == pytest.approx(
        summary.drift.feature_scores[PLAN.shift_column]
    )
    assert gauge(path, "steelthread_monitor_prediction_drift_score") > 0.1
    assert gauge(path, QUALITY.gauge, metric=QUALITY.metric) == pytest.approx(
        summary.performance.current[QUALITY.metric]
    )
    assert gauge(path, "steelthread_monitor_model_age_seconds") == pytest.approx(
        (window_end - pd.Timestamp("2026-11-01T00:00:00Z")).total_seconds()
    )
    assert math.isclose(
        gauge(path, "steelthread_monitor_last_run_timestamp_seconds"),
        summary.finished_at.timestamp(),
    )
    for name in ("missing_share", "out_of_range_share", "new_category_share", "skew_share"):
        assert gauge(path, f"steelthread_monitor_{name}") >= 0.0
    assert not list(path.parent.glob("*.tmp*")), "the textfile must be replaced atomically"


def test_window_bounds_and_no_labels(
    deployment_factory: Callable[..., Deployment],
    options_for: Callable[..., RunOptions],
    tmp_path: Path,
) -> None:
    """Rows outside the window are left out; a window without labels completes with exit code 5."""
    deployment = deployment_factory(labelled_share=0.0)
    outcome = run_monitoring(options_for(deployment, tmp_path, window=timedelta(hours=6)))
    assert 900 < outcome.summary.rows < 1100, "the synthetic log spans 12 h evenly"
    assert outcome.exit_code is ExitCode.NO_LABELS
    assert not outcome.summary.performance.evaluated
    assert "0 labelled rows" in (outcome.summary.performance.reason or "")
    text = (tmp_path / "textfile" / "steelthread_monitor.prom").read_text()
    assert "steelthread_monitor_drift_share" in text
    assert "steelthread_monitor_performance{" not in text
    assert "steelthread_monitor_labelled_rows" in text


def test_too_few_labels_skip_performance(deployment_factory: Callable[..., Deployment]) -> None:
    deployment = deployment_factory()
    reference = load_reference(deployment.reference_path)
    assert reference.task is PLAN.task
    frame = reference.frame.copy()
    few = analyse_performance(reference, frame.head(150), min_labels=200)
    assert (few.evaluated, few.labelled_rows) == (False, 150)
    assert few.reason == "150 labelled rows in the window, 200 needed (--min-labels)"
    assert analyse_performance(reference, frame.head(400), min_labels=200).evaluated


def test_one_class_skips_binary_performance(tmp_path: Path, window_end: datetime) -> None:
    deployment = write_deployment(tmp_path, 2000, window_end, "none", use_case=BINARY)
    reference = load_reference(deployment.reference_path)
    assert reference.task is Task.BINARY
    frame = reference.frame.copy()
    one_class = frame[frame["label"] == 0]
    result = analyse_performance(reference, one_class, min_labels=200)
    assert not result.evaluated
    assert "same class" in (result.reason or "")
    assert analyse_performance(reference, frame, min_labels=200).evaluated


def _rewrite_log(deployment: Deployment, change: Callable[[dict[str, object]], None]) -> None:
    for path in deployment.log_dir.glob("predictions-*.jsonl"):
        records = [json.loads(line) for line in path.read_text().splitlines()]
        for record in records:
            change(record)
        path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_unseen_columns_and_type_changes(
    deployment_factory: Callable[..., Deployment],
    options_for: Callable[..., RunOptions],
    tmp_path: Path,
) -> None:
    deployment = deployment_factory()

    def change(record: dict[str, object]) -> None:
        features, request = record["features"], record["request"]
        assert isinstance(features, dict)
        assert isinstance(request, dict)
        features["feature_added_without_retraining"] = 12.0
        request[category] = 3

    assert PLAN.new_category_column is not None
    category = PLAN.new_category_column
    _rewrite_log(deployment, change)
    outcome = run_monitoring(options_for(deployment, tmp_path))
    assert outcome.exit_code is ExitCode.UNSEEN_COLUMNS
    assert outcome.summary.unseen_columns == ["feature_added_without_retraining"]
    assert "feature_added_without_retraining" in outcome.summary.messages[-1]
    assert outcome.summary.quality.type_changes == {category: {"reference": "string", "current": "numeric"}}
    path = tmp_path / "textfile" / "steelthread_monitor.prom"
    assert gauge(path, "steelthread_monitor_type_changes") == 1
    assert gauge(path, "steelthread_monitor_unseen_columns") == 1


def test_empty_window_exports_zero_rows(
    deployment_factory: Callable[..., Deployment],
    options_for: Callable[..., RunOptions],
    tmp_path: Path,
    window_end: datetime,
) -> None:
    deployment = deployment_factory()
    options = options_for(deployment, tmp_path, now=window_end + timedelta(days=3))
    with pytest.raises(EmptyWindowError, match="no prediction-log rows"):
        run_monitoring(options)
    path = tmp_path / "textfile" / "steelthread_monitor.prom"
    assert gauge(path, "steelthread_monitor_rows_checked") == 0
    assert "steelthread_monitor_drift_share" not in path.read_text()
    summaries = list((tmp_path / "monitoring").glob("2*/summary.json"))
    assert len(summaries) == 1
    assert json.loads(summaries[0].read_text())["exit_code"] == ExitCode.EMPTY_WINDOW


def test_missing_reference(
    deployment_factory: Callable[..., Deployment],
    options_for: Callable[..., RunOptions],
    tmp_path: Path,
) -> None:
    deployment = deployment_factory()
    (deployment.models_dir / "champion.json").unlink()
    with pytest.raises(MissingReferenceError, match=r"champion\.json"):
        run_monitoring(options_for(deployment, tmp_path))
    with pytest.raises(MissingReferenceError, match="does not exist"):
        run_monitoring(options_for(deployment, tmp_path, reference_path=tmp_path / "nope.parquet"))


def test_unknown_schema_version_is_invalid_input(
    deployment_factory: Callable[..., Deployment],
    options_for: Callable[..., RunOptions],
    tmp_path: Path,
) -> None:
    deployment = deployment_factory()

    def bump(record: dict[str, object]) -> None:
        record["schema_version"] = 99

    _rewrite_log(deployment, bump)
    with pytest.raises(InvalidInputError, match="schema_version"):
        run_monitoring(options_for(deployment, tmp_path))


OFFLINE_MODULE = """
import pandas as pd

COLUMNS = {columns!r}
FEATURE = {feature!r}
RECOMPUTED = pd.read_parquet({offline!r}).set_index("request_id")


def recompute(requests: pd.DataFrame) -> pd.DataFrame:
    # Stands in for the feature library's training_frame: what it is given, and 10 rows off.
    assert set(COLUMNS) <= set(requests), sorted(requests)
    frame = RECOMPUTED.loc[requests["request_id"], [FEATURE]].reset_index()
    frame.loc[frame.index[:10], FEATURE] += 1.0
    return frame
"""


def test_skew_through_a_callable_seam(
    deployment_factory: Callable[..., Deployment],
    options_for: Callable[..., RunOptions],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The function gets request_id, the use case's join key, logged_at and every request field."""
    deployment = deployment_factory()
    offline = tmp_path / "offline.parquet"
    offline_features_for(deployment.log_dir, "none").to_parquet(offline)
    use_case = PLAN.use_case
    columns = ["request_id", use_case.join_key, "logged_at", *use_case.request_names]
    module = OFFLINE_MODULE.format(columns=columns, feature=PLAN.shift_column, offline=str(offline))
    (tmp_path / "offline_recompute.py").write_text(module)
    monkeypatch.syspath_prepend(str(tmp_path))
    source = callable_source("offline_recompute:recompute")
    summary = run_monitoring(
        options_for(deployment, tmp_path, offline_features=source, skew_sample=200)
    ).summary
    assert summary.skew is not None
    assert summary.skew.compared == 200
    assert summary.skew.skewed_rows == 10
    assert summary.skew.feature_skew_share == {PLAN.shift_column: 0.05}


def test_live_files_half_written_line_and_empty_file(
    deployment_factory: Callable[..., Deployment], window_end: datetime
) -> None:
    """Serving appends while the job reads: a partial last line waits for the next run, no error."""
    deployment = deployment_factory()
    log = next(deployment.log_dir.glob("predictions-*.jsonl"))
    with log.open("a") as handle:
        handle.write('{"schema_version": 1, "logged_at": "2026-11-22T11:59:')
    (deployment.log_dir / "predictions-new.jsonl").write_text("")
    (deployment.feedback_dir / "feedback-new.jsonl").write_text("")
    window = read_window(
        deployment.log_dir,
        deployment.feedback_dir,
        window_end - timedelta(hours=24),
        window_end,
        load_reference(deployment.reference_path),
    )
    assert len(window.frame) == 2000
    assert window.frame["label"].notna().sum() > 800
