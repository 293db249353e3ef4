"""Monitoring follows the model's task: a regression package gets regression performance (MAE, RMSE, mean
error, R²) and its own gauges, whatever use case the process runs; labels are checked for the task as the
window is read, and a bad one names its file and line.

The data is the synthetic writer's, declared by fixture use cases of each task (task_usecases.py), so these
tests do not depend on the process's use case; the package is published through the test package helper
with its task, as training would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from monitoring.task_usecases import BINARY, IMPORT_PATHS, REGRESSION, other_than
from prometheus_client.parser import text_string_to_metric_families

from helpers.packages import publish_reference
from steelthread_contracts import usecase
from steelthread_monitoring import synthetic
from steelthread_monitoring.errors import ExitCode, InvalidInputError
from steelthread_monitoring.job import RunOptions, RunOutcome, run_monitoring
from steelthread_monitoring.reference import load_reference
from steelthread_monitoring.synthetic import Deployment
from steelthread_monitoring.window import ENTITY_FIELD, read_window

PLAN = synthetic.plan(REGRESSION)
REGRESSION_METRICS = {"mae", "rmse", "mean_error", "r2"}


def samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(path.read_text())
        for s in family.samples
    }


def deployment_of(
    use_case: usecase.UseCase, root: Path, end: datetime, scenario: synthetic.Scenario = "none"
) -> Deployment:
    """A reference published through the test package helper with the use case's task, and a window."""
    plan = synthetic.plan(use_case)
    models = root / "models"
    folder = publish_reference(
        models,
        synthetic.MODEL_VERSION,
        synthetic.reference_frame(use_case=use_case),
        feature_names=list(plan.features),
        task=use_case.task.value,
        name=plan.model_name,
    )
    log_dir, feedback_dir = root / "prediction-log", root / "feedback"
    synthetic.write_window(log_dir, feedback_dir, 2000, end, scenario, use_case=use_case)
    return Deployment(models, log_dir, feedback_dir, folder / "reference.parquet")


def regression_deployment(root: Path, end: datetime, scenario: synthetic.Scenario = "none") -> Deployment:
    return deployment_of(REGRESSION, root, end, scenario)


def run(deployment: Deployment, root: Path, end: datetime, **overrides: Any) -> RunOutcome:
    options: dict[str, Any] = {
        "window": timedelta(hours=24),
        "log_dir": deployment.log_dir,
        "feedback_dir": deployment.feedback_dir,
        "models_dir": deployment.models_dir,
        "out_dir": root / "monitoring",
        "textfile": root / "textfile" / "steelthread_monitor.prom",
        "now": end,
    }
    return run_monitoring(RunOptions(**(options | overrides)))


def test_a_regression_package_is_monitored_end_to_end(
    tmp_path: Path, window_end: datetime, promtool_alerts: Callable[..., Any]
) -> None:
    """The package says regression, whatever the process runs (the credit example is binary)."""
    deployment = regression_deployment(tmp_path, window_end)
    outcome = run(deployment, tmp_path, window_end)
    summary = outcome.summary
    assert outcome.exit_code is ExitCode.OK, summary.messages
    assert (summary.task, summary.performance.task) == ("regression", "regression")
    assert summary.rows == 2000
    assert summary.drift.drifted == []

    performance = summary.performance
    assert performance.evaluated
    assert set(performance.current) == set(performance.reference) == REGRESSION_METRICS
    current, reference = performance.current, performance.reference
    assert current["mae"] == pytest.approx(reference["mae"], rel=0.15)
    assert current["rmse"] >= current["mae"] > 0
    assert abs(current["mean_error"]) < 0.2 * current["rmse"], "the synthetic model is unbiased"
    assert current["r2"] > 0.5

    run_dir = outcome.run_dir
    assert (run_dir / "report.html").is_file()
    html = (run_dir / "performance.html").read_text()
    assert "Predicted vs Actual" in html
    assert "R2 Score (current)" in html

    values = samples(tmp_path / "textfile" / "steelthread_monitor.prom")
    base = (("model_name", PLAN.model_name), ("model_version", synthetic.MODEL_VERSION))
    for metric in REGRESSION_METRICS:
        key = tuple(sorted((*base, ("metric", metric))))
        assert values[("steelthread_monitor_regression_performance", key)] == pytest.approx(current[metric])
        assert values[("steelthread_monitor_reference_regression_performance", key)] == pytest.approx(
            reference[metric]
        )
    assert not [name for name, _ in values if name.endswith("monitor_performance")], (
        "binary gauges stay apart"
    )

    # The shipped rules read the regression output without error, and nothing fires on a clean window.
    result = promtool_alerts(tmp_path / "textfile" / "steelthread_monitor.prom", [], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_label_shift_raises_the_regression_error(tmp_path: Path, window_end: datetime) -> None:
    outcome = run(regression_deployment(tmp_path, window_end, "label_shift"), tmp_path, window_end)
    performance = outcome.summary.performance
    assert performance.evaluated
    assert performance.current["mae"] > 1.5 * performance.reference["mae"]
    assert performance.current["r2"] < 0.2 < performance.reference["r2"]


def test_prediction_bias_shows_as_mean_error(tmp_path: Path, window_end: datetime) -> None:
    """mean_error is prediction minus label: a model that over-predicts by 10 minutes reads +10."""
    deployment = regression_deployment(tmp_path, window_end)
    for path in deployment.feedback_dir.glob("feedback-*.jsonl"):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        path.write_text(
            "".join(json.dumps(r | {"observed_label": r["observed_label"] - 10}) + "\n" for r in rows)
        )
    performance = run(deployment, tmp_path, window_end).summary.performance
    assert performance.current["mean_error"] == pytest.approx(10.0, abs=1.5)


def _feedback_lines(path: Path, labels: list[object]) -> None:
    path.write_text(
        "".join(
            json.dumps({"request_id": f"x-{i}", "observed_label": v, "observed_at": "2026-11-22T10:00:00Z"})
            + "\n"
            for i, v in enumerate(labels)
        )
    )


@pytest.mark.parametrize(
    ("labels", "line", "shown"),
    [([12.5, 3, "late"], 3, '"late"'), ([12.5, None], 2, "null"), ([True], 1, "true")],
)
def test_a_regression_label_that_is_not_a_finite_number_names_its_line(
    tmp_path: Path, window_end: datetime, labels: list[object], line: int, shown: str
) -> None:
    deployment = regression_deployment(tmp_path, window_end)
    bad = deployment.feedback_dir / "feedback-zz.jsonl"
    _feedback_lines(bad, labels)
    with pytest.raises(InvalidInputError) as caught:
        read_window(
            deployment.log_dir,
            deployment.feedback_dir,
            window_end - timedelta(hours=24),
            window_end,
            load_reference(deployment.reference_path),
        )
    assert caught.value.message == (
        f"{bad}:{line}: observed_label {shown} is not a regression label (expected a finite number)"
    )


@pytest.mark.parametrize(("labels", "line", "shown"), [([0, 1, 2], 3, "2"), ([1, 0.5], 2, "0.5")])
def test_a_binary_label_other_than_0_or_1_names_its_line(
    tmp_path: Path, window_end: datetime, labels: list[object], line: int, shown: str
) -> None:
    deployment = deployment_of(BINARY, tmp_path, window_end)
    bad = deployment.feedback_dir / "feedback-zz.jsonl"
    _feedback_lines(bad, labels)
    with pytest.raises(InvalidInputError) as caught:
        read_window(
            deployment.log_dir,
            deployment.feedback_dir,
            window_end - timedelta(hours=24),
            window_end,
            load_reference(deployment.reference_path),
        )
    assert (
        caught.value.message
        == f"{bad}:{line}: observed_label {shown} is not a binary label (expected 0 or 1)"
    )


def test_a_bare_reference_takes_task_and_join_key_from_the_active_use_case(
    tmp_path: Path, window_end: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No package.json: the use case says what the model predicts, and the skew seam gets its join key.

    The deployment is a fixture of another task than the process's use case, so switching the variable to
    it changes the task the bare reference is read with (and the join key the seam gets)."""
    active = usecase.active()
    other = other_than(active.task)
    deployment = deployment_of(other, tmp_path, window_end)
    bare = tmp_path / "bare.parquet"
    pd.read_parquet(deployment.reference_path).to_parquet(bare)
    assert load_reference(bare).task is active.task is not other.task

    monkeypatch.setenv(usecase.USECASE_ENV, "no-such-case")
    with pytest.raises(InvalidInputError, match=r"bare\.parquet has no package\.json .* STEELTHREAD_USECASE"):
        load_reference(bare)

    monkeypatch.setenv(usecase.USECASE_ENV, IMPORT_PATHS[other.task])
    assert load_reference(bare).task is other.task
    seen: list[str] = []
    shift_column = synthetic.plan(other).shift_column

    def offline(requests: pd.DataFrame) -> pd.DataFrame:
        seen.extend(requests.columns)
        return pd.DataFrame({"request_id": requests["request_id"], shift_column: 0.0})

    summary = run(
        deployment, tmp_path, window_end, reference_path=bare, offline_features=offline, skew_sample=50
    ).summary
    assert summary.task == other.task.value
    assert summary.performance.evaluated
    assert seen == ["request_id", other.join_key, "logged_at", *other.request_names]
    assert active.join_key not in seen
    assert ENTITY_FIELD not in seen
