"""Gauges for Prometheus, written through the node-exporter textfile convention or a Pushgateway.

The textfile is the default: the job is a batch job on the same node/volume as a node-exporter, the file is
replaced atomically (prometheus-client writes a temporary file and renames it), and a crashed run leaves the
previous values plus a `last_run_timestamp_seconds` that ages, which the staleness alert watches. The
Pushgateway is for schedulers without a shared volume (e.g. GitHub Actions); see docs/monitoring.md.
"""

from __future__ import annotations

from pathlib import Path
from urllib.error import URLError

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile

from steelthread_monitoring.errors import ExportError
from steelthread_monitoring.summary import Summary

PREFIX = "steelthread_monitor"
PUSH_JOB = "steelthread_monitor"


def build_registry(summary: Summary) -> CollectorRegistry:
    """Every number an alert rule or dashboard reads, labelled with the model it describes."""
    registry = CollectorRegistry()
    base = {"model_name": summary.model_name or "", "model_version": summary.model_version or ""}
    names = list(base)

    def gauge(name: str, doc: str, extra: tuple[str, ...] = ()) -> Gauge:
        return Gauge(f"{PREFIX}_{name}", doc, [*names, *extra], registry=registry)

    gauge("last_run_timestamp_seconds", "Unix time the monitoring run finished.").labels(**base).set(
        summary.finished_at.timestamp()
    )
    gauge("rows_checked", "Prediction-log rows in the window.").labels(**base).set(summary.rows)
    gauge(
        "window_records",
        "Prediction-log records of the recent window the checks read (0: the window was empty).",
    ).labels(**base).set(summary.rows)
    inputs = {"predictions": summary.prediction_log, "feedback": summary.feedback}
    duplicates = gauge("duplicate_records", "Records whose request_id was already read.", ("input",))
    malformed = gauge("malformed_records", "Lines skipped as not records of the contract.", ("input",))
    for name, records in inputs.items():
        duplicates.labels(**base, input=name).set(records.duplicates)
        malformed.labels(**base, input=name).set(records.malformed)
    if summary.model_age_seconds is not None:
        gauge("model_age_seconds", "Age of the model package at run time.").labels(**base).set(
            summary.model_age_seconds
        )
    if summary.rows == 0:
        return registry
    drift, quality = summary.drift, summary.quality
    gauge("drift_share", "Share of monitored columns that drifted.").labels(**base).set(drift.drift_share)
    feature = gauge("feature_drift_score", "Drift distance per column.", ("feature",))
    for name, value in drift.feature_scores.items():
        feature.labels(**base, feature=name).set(value)
    if drift.prediction_score is not None:
        gauge("prediction_drift_score", "Drift distance of the model score.").labels(**base).set(
            drift.prediction_score
        )
    gauge("missing_share", "Share of missing cells over monitored columns.").labels(**base).set(
        quality.overall_missing_share
    )
    gauge("out_of_range_share", "Share of numeric values outside the reference range.").labels(**base).set(
        quality.overall_out_of_range_share
    )
    gauge("new_category_share", "Share of categorical values unseen in the reference.").labels(**base).set(
        quality.overall_new_category_share
    )
    gauge("type_changes", "Columns whose logged type differs from the reference.").labels(**base).set(
        len(quality.type_changes)
    )
    gauge("unseen_columns", "Logged feature columns the reference lacks.").labels(**base).set(
        len(summary.unseen_columns)
    )
    gauge("absent_columns", "Reference columns the log does not carry (not checked).").labels(**base).set(
        len(summary.absent_columns)
    )
    per_feature = {
        "feature_missing_share": ("Missing share per column.", quality.missing_share),
        "feature_missing_share_increase": (
            "Missing share per column minus the reference's.",
            {c: v - quality.reference_missing_share.get(c, 0.0) for c, v in quality.missing_share.items()},
        ),
        "feature_out_of_range_share": ("Out-of-range share per column.", quality.out_of_range_share),
        "feature_new_category_share": ("New-category share per column.", quality.new_category_share),
    }
    for name, (doc, values) in per_feature.items():
        g = gauge(name, doc, ("feature",))
        for column, value in values.items():
            g.labels(**base, feature=column).set(value)
    performance = summary.performance
    gauge("cohort_rows", "Predictions of the performance cohort (logged before now - label delay).").labels(
        **base
    ).set(performance.cohort_rows)
    gauge("labelled_rows", "Rows of the performance cohort with a label.").labels(**base).set(
        performance.labelled_rows
    )
    if performance.label_coverage is not None:
        gauge("label_coverage", "Labelled share (0..1) of the performance cohort's predictions.").labels(
            **base
        ).set(performance.label_coverage)
    if performance.evaluated and performance.task == "regression":
        # Errors in the label's own unit (mae, rmse, mean_error = mean of prediction - label) and r2: a
        # family apart, so classification panels and rules never mix them with 0..1 scores.
        current = gauge(
            "regression_performance",
            "Regression quality on labelled rows (mae, rmse, mean_error, r2).",
            ("metric",),
        )
        ref = gauge(
            "reference_regression_performance",
            "Regression quality on the reference (mae, rmse, mean_error, r2).",
            ("metric",),
        )
    elif performance.evaluated:
        current = gauge("performance", "Classification quality on labelled rows.", ("metric",))
        ref = gauge("reference_performance", "Classification quality on the reference.", ("metric",))
    if performance.evaluated:
        for metric, value in performance.current.items():
            current.labels(**base, metric=metric).set(value)
        for metric, value in performance.reference.items():
            ref.labels(**base, metric=metric).set(value)
    if performance.estimated:
        estimated = gauge(
            "estimated_performance",
            "CBPE's estimate on the current window, before labels (roc_auc, positive_rate).",
            ("metric",),
        )
        for metric, value in performance.estimated.items():
            estimated.labels(**base, metric=metric).set(value)
    if summary.skew is not None:
        gauge("skew_share", "Share of sampled requests with serving/offline feature mismatch.").labels(
            **base
        ).set(summary.skew.skew_share)
        gauge("skew_rows_compared", "Requests compared for skew.").labels(**base).set(summary.skew.compared)
    return registry


def write_textfile(registry: CollectorRegistry, path: Path) -> None:
    """Atomic replace, so node-exporter never scrapes a half-written file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(path), registry)
    except OSError as exc:
        raise ExportError(f"cannot write metrics textfile {path}: {exc}") from exc


def push(registry: CollectorRegistry, url: str, instance: str) -> None:
    """Replace this job's group on the Pushgateway (PUT), so stale per-feature series disappear."""
    try:
        push_to_gateway(url, job=PUSH_JOB, registry=registry, grouping_key={"instance": instance})
    except (URLError, OSError, ValueError) as exc:
        raise ExportError(f"cannot push metrics to {url}: {exc}") from exc
