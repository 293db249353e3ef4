"""Evidently runs: drift, data quality and performance of a window against the reference.

Performance follows the reference's task: binary models get Evidently's classification preset (precision,
recall, F1, ROC AUC at the package's threshold); regression models its regression preset (MAE, RMSE, mean
error, R²). A multiclass model's drift and quality are checked, its performance is not evaluated yet.

Drift methods are pinned (normed Wasserstein for numbers, Jensen-Shannon for categories) instead of
Evidently's size-dependent defaults, so every drift score is a distance where larger means more drift and
one threshold means the same thing on 500 rows and on 1,000,000 rows. That is what lets alert rules use a
single constant. What counts as drift is defined once, in steelthread_monitoring.drift.
"""

from __future__ import annotations

import html
import math
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

with warnings.catch_warnings():
    # Evidently's import touches numpy.core and litestar deprecated APIs; not ours to fix.
    warnings.simplefilter("ignore", DeprecationWarning)
    from evidently import BinaryClassification, DataDefinition, Dataset, Regression, Report
    from evidently.core.metric_types import SingleValue, SingleValueCalculation, SingleValueMetric
    from evidently.legacy.calculations.data_drift import ColumnDataDriftMetrics
    from evidently.legacy.metrics import ColumnDriftMetric
    from evidently.metrics import (
        MAE,
        RMSE,
        F1Score,
        MeanError,
        MissingValueCount,
        OutListValueCount,
        OutRangeValueCount,
        Precision,
        R2Score,
        Recall,
        RocAuc,
    )
    from evidently.metrics._legacy import LegacyMetricCalculation
    from evidently.presets import (
        ClassificationPreset,
        DataDriftPreset,
        DataSummaryPreset,
        RegressionPreset,
    )

from steelthread_contracts.package import Task
from steelthread_monitoring.drift import one_column_share
from steelthread_monitoring.reference import LABEL_COLUMN, SCORE_COLUMN, Reference

NUM_METHOD = "wasserstein"
CAT_METHOD = "jensenshannon"
PERFORMANCE_METRICS: dict[Task, tuple[str, ...]] = {
    Task.BINARY: ("precision", "recall", "f1", "roc_auc"),
    Task.REGRESSION: ("mae", "rmse", "mean_error", "r2"),
}
"""What each task's performance reports (summary.json keys, the `metric` label of the gauges)."""
_EVIDENTLY_PERFORMANCE = {
    "Precision": "precision",
    "Recall": "recall",
    "F1Score": "f1",
    "RocAuc": "roc_auc",
    "MAE": "mae",
    "RMSE": "rmse",
    "MeanError": "mean_error",
    "R2Score": "r2",
}


class LabelCoverage(SingleValueMetric):  # type: ignore[misc]  # evidently ships no type hints
    """Labelled share of the cohort's predictions, at the top of the performance report: Evidently's own
    metrics see only the labelled rows they are computed on, so the report says how many rows that is of
    the cohort (a metric of the report, so it is in the snapshot too)."""

    labelled: int
    predicted: int
    cohort: str = ""


class LabelCoverageCalculation(SingleValueCalculation[LabelCoverage]):  # type: ignore[misc]
    def calculate(
        self, context: Any, current_data: Dataset, reference_data: Dataset | None
    ) -> tuple[SingleValue, None]:
        metric = self.metric
        return self.result(metric.labelled / metric.predicted if metric.predicted else 0.0), None

    def display_name(self) -> str:
        metric = self.metric
        return (
            f"Label coverage: {metric.labelled} of {metric.predicted} predictions of the cohort labelled"
            + (f" ({metric.cohort})" if metric.cohort else "")
        )


TIME_COLUMN = "logged_at"
"""Given to Evidently as the timestamp column (`DataDefinition(timestamp=...)`, which Evidently hands to its
drift table as `ColumnMapping(datetime=...)`): every numerical column's drift plot, and the score's, shows
the window's mean per time bucket against the reference's mean ± std, with time on the x-axis."""


class ValueDriftOverTime(SingleValueMetric):  # type: ignore[misc]  # evidently ships no type hints
    """A column's drift distance, plotted over the window's time. Evidently's own `ValueDrift` bins its
    plot by row index whatever the data definition's timestamp (it builds its column mapping without one);
    the drift table of `DataDriftPreset` and Evidently's `ColumnDriftMetric` plot over the timestamp
    column. So the score, which is not one of the preset's columns (it is not an input: a drifted score is
    prediction drift), is measured by `ColumnDriftMetric` with the same method and threshold."""

    column: str
    method: str
    threshold: float


class ValueDriftOverTimeCalculation(
    SingleValueCalculation[ValueDriftOverTime],  # type: ignore[misc]  # evidently ships no type hints
    LegacyMetricCalculation[  # type: ignore[misc]
        SingleValue, ValueDriftOverTime, ColumnDataDriftMetrics, ColumnDriftMetric
    ],
):
    def legacy_metric(self) -> Any:
        metric = self.metric
        return ColumnDriftMetric(
            column_name=metric.column, stattest=metric.method, stattest_threshold=metric.threshold
        )

    def calculate_value(
        self, context: Any, legacy_result: ColumnDataDriftMetrics, render: list[Any]
    ) -> SingleValue:
        result = self.result(legacy_result.drift_score)
        result.widget = render
        return result

    def display_name(self) -> str:
        return f"Value drift for {self.metric.column} over {TIME_COLUMN}"


@dataclass(frozen=True)
class ReportContext:
    """What a reader of a report (HTML or the Evidently UI) needs to know which run it is looking at."""

    use_case: str
    model_name: str | None
    model_version: str | None
    window_start: datetime
    window_end: datetime

    @property
    def title(self) -> str:
        model = f"{self.model_name or 'model'} v{self.model_version or '?'}"
        return f"steelthread monitoring: {model} ({self.use_case})"

    @property
    def window(self) -> str:
        return f"{self.window_start.isoformat()} to {self.window_end.isoformat()}"

    def metadata(self) -> dict[str, str]:
        return {
            "use_case": self.use_case,
            "model_name": self.model_name or "",
            "model_version": self.model_version or "",
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
        }

    def tags(self) -> list[str]:
        return [self.use_case, f"v{self.model_version or '?'}"]

    def header(self, part: str) -> str:
        """An HTML heading for the top of the report: Evidently's page starts straight with the widgets."""
        rows = "".join(
            f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>"
            for k, v in (
                ("Use case", self.use_case),
                ("Model", f"{self.model_name or '-'} version {self.model_version or '-'}"),
                ("Window", self.window),
            )
        )
        return (
            '<header id="steelthread-report-header" style="font-family:sans-serif;margin:16px">'
            f"<h1>{html.escape(self.title)}: {html.escape(part)}</h1>"
            f'<dl style="display:grid;grid-template-columns:max-content auto;gap:2px 12px">{rows}</dl>'
            "</header>"
        )


@dataclass
class DriftResult:
    feature_scores: dict[str, float]
    drifted: list[str]
    drift_share: float
    prediction_score: float | None
    html: str
    snapshot: Any = None
    """Evidently's snapshot, for the workspace (steelthread_monitoring.workspace)."""


@dataclass
class QualityResult:
    missing_share: dict[str, float]
    reference_missing_share: dict[str, float]
    out_of_range_share: dict[str, float]
    new_category_share: dict[str, float]
    new_categories: dict[str, list[str]]
    overall_missing_share: float
    overall_out_of_range_share: float
    overall_new_category_share: float


@dataclass
class PerformanceResult:
    labelled_rows: int
    evaluated: bool
    task: Task = Task.BINARY
    reason: str | None = None
    current: dict[str, float] = field(default_factory=dict)
    reference: dict[str, float] = field(default_factory=dict)
    html: str | None = None
    snapshot: Any = None


def checked_columns(reference: Reference) -> list[str]:
    """The monitored columns less the one-hot indicators of a monitored categorical column (`purpose_car`
    beside `purpose`): the category itself is checked (drift, new categories), so its 0/1 indicators would
    count the same change twice in the drifted share and the data-quality checks."""
    categorical = reference.categorical_columns
    frame = reference.frame

    def one_hot(column: str) -> bool:
        prefixed = any(column.startswith(f"{c}_") for c in categorical)
        return prefixed and set(frame[column].dropna().unique()) <= {0, 1}

    return [c for c in reference.monitored_columns if c in categorical or not one_hot(c)]


def _definition(
    reference: Reference, columns: list[str], with_target: bool, timestamp: str | None = None
) -> DataDefinition:
    numerical = [c for c in reference.numerical_columns if c in columns]
    categorical = [c for c in reference.categorical_columns if c in columns]
    binary = with_target and reference.task is Task.BINARY
    regression = with_target and reference.task is Task.REGRESSION
    return DataDefinition(
        numerical_columns=[*numerical, SCORE_COLUMN, *([LABEL_COLUMN] if regression else [])],
        categorical_columns=categorical,
        classification=(
            [BinaryClassification(target=LABEL_COLUMN, prediction_probas=SCORE_COLUMN)] if binary else None
        ),
        regression=[Regression(target=LABEL_COLUMN, prediction=SCORE_COLUMN)] if regression else None,
        timestamp=timestamp,
    )


def _metric_values(snapshot: Any) -> list[tuple[str, dict[str, Any], Any]]:
    """(metric type, config, value) for every metric of a snapshot, from its public dict form."""
    out = []
    for item in snapshot.dict()["metrics"]:
        config = item.get("config", {})
        kind = str(config.get("type", "")).rsplit(":", 1)[-1]
        out.append((kind, config, item.get("value")))
    return out


def _run(
    metrics: list[Any],
    current: pd.DataFrame,
    reference: pd.DataFrame | None,
    dd: DataDefinition,
    context: ReportContext | None = None,
    part: str = "",
) -> Any:
    with warnings.catch_warnings():
        # Evidently/pandas/scipy internals warn on benign casts; our results are checked in tests.
        warnings.simplefilter("ignore")
        if context is None:
            return Report(metrics).run(
                Dataset.from_pandas(current, data_definition=dd),
                None if reference is None else Dataset.from_pandas(reference, data_definition=dd),
            )
        report = Report(metrics, metadata={**context.metadata(), "part": part}, tags=[*context.tags(), part])
        return report.run(
            Dataset.from_pandas(current, data_definition=dd),
            None if reference is None else Dataset.from_pandas(reference, data_definition=dd),
            timestamp=context.window_end,
            name=f"{context.title}: {part}, {context.window}",
        )


def _titled_html(snapshot: Any, context: ReportContext | None, part: str) -> str:
    page = str(snapshot.get_html_str(as_iframe=False))
    if context is None:
        return page
    head, sep, rest = page.partition("<body>")
    title = f"<title>{html.escape(context.title)}: {html.escape(part)}</title>"
    head = head.replace("<head>", f"<head>{title}", 1)
    return f"{head}{sep}{context.header(part)}{rest}" if sep else context.header(part) + page


def analyse_drift_and_quality(
    reference: Reference,
    current: pd.DataFrame,
    drift_threshold: float,
    context: ReportContext | None = None,
) -> tuple[DriftResult, QualityResult]:
    """One Evidently report with drift per column, score drift, quality counts and a data summary."""
    columns = [c for c in checked_columns(reference) if c in current.columns]
    ref = reference.frame
    present = [c for c in columns if current[c].notna().any() and ref[c].notna().any()]
    metrics: list[Any] = []
    if present:
        metrics.append(
            DataDriftPreset(
                columns=present,
                num_method=NUM_METHOD,
                cat_method=CAT_METHOD,
                threshold=drift_threshold,
                # The headline agrees with the input-drift alert: one drifted column is dataset drift.
                drift_share=one_column_share(len(present)),
            )
        )
    has_scores = bool(current[SCORE_COLUMN].notna().any())
    if has_scores:
        metrics.append(ValueDriftOverTime(column=SCORE_COLUMN, method=NUM_METHOD, threshold=drift_threshold))
    metrics.append(DataSummaryPreset(columns=columns))
    metrics.extend(MissingValueCount(column=c) for c in columns)
    bounds: dict[str, tuple[float, float]] = {}
    categories: dict[str, list[str]] = {}
    for c in present:
        if c in reference.numerical_columns:
            bounds[c] = (float(ref[c].min()), float(ref[c].max()))
            metrics.append(OutRangeValueCount(column=c, left=bounds[c][0], right=bounds[c][1]))
        else:
            categories[c] = sorted(str(v) for v in ref[c].dropna().unique())
            metrics.append(OutListValueCount(column=c, values=categories[c]))
    timed = TIME_COLUMN in current.columns
    frame = current[[*columns, SCORE_COLUMN, *([TIME_COLUMN] if timed else [])]]
    ref_frame = ref[[*columns, SCORE_COLUMN]].copy()
    if timed:  # the reference has no time of its own; Evidently plots the current window over time
        ref_frame[TIME_COLUMN] = pd.Series(pd.NaT, index=ref_frame.index, dtype=frame[TIME_COLUMN].dtype)
    for c in (c for c in reference.categorical_columns if c in columns):
        ref_frame[c] = ref_frame[c].where(ref_frame[c].isna(), ref_frame[c].astype(str))
    dd = _definition(reference, columns, with_target=False, timestamp=TIME_COLUMN if timed else None)
    snapshot = _run(metrics, frame, ref_frame, dd, context, "drift and data quality")

    feature_scores: dict[str, float] = {}
    prediction: float | None = None
    drift_share = 0.0
    missing: dict[str, float] = {}
    out_of_range: dict[str, float] = {}
    new_category: dict[str, float] = {}
    for kind, config, value in _metric_values(snapshot):
        column = config.get("column")
        if kind == "ValueDriftOverTime" and column == SCORE_COLUMN:
            prediction = float(value)
        elif kind == "ValueDrift" and column in present:
            feature_scores[str(column)] = float(value)
        elif kind == "DriftedColumnsCount":
            drift_share = float(value["share"])
        elif kind == "MissingValueCount" and column in columns:
            missing[str(column)] = float(value["share"])
        elif kind == "OutRangeValueCount":
            out_of_range[str(column)] = float(value["share"])
        elif kind == "OutListValueCount":
            new_category[str(column)] = float(value["share"])
    drifted = sorted(c for c, s in feature_scores.items() if s >= drift_threshold)
    new_values = {
        c: sorted(set(current[c].dropna().astype(str).unique()) - set(values))[:20]
        for c, values in categories.items()
    }
    quality = QualityResult(
        missing_share=missing,
        reference_missing_share={c: float(ref[c].isna().mean()) for c in columns},
        out_of_range_share=out_of_range,
        new_category_share=new_category,
        new_categories={c: v for c, v in new_values.items() if v},
        overall_missing_share=float(current[columns].isna().to_numpy().mean()) if columns else 0.0,
        overall_out_of_range_share=_weighted(out_of_range, current),
        overall_new_category_share=_weighted(new_category, current),
    )
    drift = DriftResult(
        feature_scores=feature_scores,
        drifted=drifted,
        drift_share=drift_share,
        prediction_score=prediction,
        html=_titled_html(snapshot, context, "drift and data quality"),
        snapshot=snapshot,
    )
    return drift, quality


def _weighted(shares: dict[str, float], current: pd.DataFrame) -> float:
    """Share over all non-missing cells of the given columns, not a mean of per-column shares."""
    counts = {c: int(current[c].notna().sum()) for c in shares}
    total = sum(counts.values())
    if total == 0:
        return 0.0
    return sum(shares[c] * counts[c] for c in shares) / total


def analyse_performance(
    reference: Reference,
    current: pd.DataFrame,
    min_labels: int,
    cohort: str | None = None,
    context: ReportContext | None = None,
) -> PerformanceResult:
    """The task's quality on the labelled rows, next to the reference's own quality. `cohort` describes
    `current` when it is the matured cohort rather than the recent window (job.py); the report then opens
    with the cohort's label coverage."""
    task = reference.task
    where = "window" if cohort is None else "cohort"
    if len(current) == 0 or LABEL_COLUMN not in current.columns:
        return PerformanceResult(
            labelled_rows=0, evaluated=False, task=task, reason=f"no predictions logged in the {where}"
        )
    labelled = current[current[LABEL_COLUMN].notna() & current[SCORE_COLUMN].notna()]
    rows = len(labelled)

    def skipped(reason: str) -> PerformanceResult:
        return PerformanceResult(labelled_rows=rows, evaluated=False, task=task, reason=reason)

    if task not in PERFORMANCE_METRICS:
        return skipped(f"performance of a {task.value} model is not evaluated by this job yet")
    if rows < min_labels:
        return skipped(f"{rows} labelled rows in the {where}, {min_labels} needed (--min-labels)")
    if task is Task.BINARY and labelled[LABEL_COLUMN].nunique() < 2:
        return skipped(f"all labels in the {where} are the same class; ROC AUC is undefined")
    ref = reference.frame
    if LABEL_COLUMN in ref.columns:
        ref = ref[ref[LABEL_COLUMN].notna() & ref[SCORE_COLUMN].notna()]
    usable = LABEL_COLUMN in ref.columns and (
        ref[LABEL_COLUMN].nunique() >= 2 if task is Task.BINARY else len(ref) > 0
    )
    if not usable:
        return skipped(f"the reference has no usable '{LABEL_COLUMN}' column")
    dd = _definition(reference, [], with_target=True)
    label_type = int if task is Task.BINARY else float
    cur = pd.DataFrame(
        {SCORE_COLUMN: labelled[SCORE_COLUMN], LABEL_COLUMN: labelled[LABEL_COLUMN].astype(label_type)}
    )
    base = pd.DataFrame({SCORE_COLUMN: ref[SCORE_COLUMN], LABEL_COLUMN: ref[LABEL_COLUMN].astype(label_type)})
    if task is Task.BINARY:
        threshold = reference.threshold
        preset: Any = ClassificationPreset(probas_threshold=threshold)
        # The reference's own quality only needs the four numbers, not the preset's plots.
        numbers: list[Any] = [
            Precision(probas_threshold=threshold),
            Recall(probas_threshold=threshold),
            F1Score(probas_threshold=threshold),
            RocAuc(probas_threshold=threshold),
        ]
    else:
        preset = RegressionPreset()
        numbers = [MAE(), RMSE(), MeanError(), R2Score()]
    coverage = LabelCoverage(
        labelled=int(current[LABEL_COLUMN].notna().sum()), predicted=len(current), cohort=cohort or ""
    )
    snapshot = _run([coverage, preset], cur, base, dd, context, "performance")
    reference_snapshot = _run(numbers, base, None, dd)
    return PerformanceResult(
        labelled_rows=rows,
        evaluated=True,
        task=task,
        current=_performance(snapshot),
        reference=_performance(reference_snapshot),
        html=_titled_html(snapshot, context, "performance"),
        snapshot=snapshot,
    )


def _performance(snapshot: Any) -> dict[str, float]:
    """Metric name -> value; mean/std metrics (MAE, mean error) report their mean."""
    out: dict[str, float] = {}
    for kind, _config, value in _metric_values(snapshot):
        name = _EVIDENTLY_PERFORMANCE.get(kind)
        if isinstance(value, dict):
            value = value.get("mean")
        if name is not None and isinstance(value, int | float) and not math.isnan(value):
            out[name] = float(value)
    return out
