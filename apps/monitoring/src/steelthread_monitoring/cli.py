"""`steelthread-monitor`: the scheduled monitoring job's command line.

Exit codes are documented in errors.ExitCode and docs/monitoring.md; every expected failure prints one
readable `error:` line on stderr (the idiom of every steelthread CLI, `steelthread_contracts.cli`) instead of
a traceback. The run's stages show as a progress bar on a terminal and as JSON log lines (event `stage`)
otherwise, the scheduler's case.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from steelthread_contracts.cli import (
    cli_errors,
    console,
    err,
    fail,
    parse_duration,
    parse_time,
    stage_progress,
)
from steelthread_contracts.cli import run as run_cli
from steelthread_contracts.logs import configure_logging
from steelthread_monitoring.errors import ExitCode
from steelthread_monitoring.job import STAGES, RunOptions, cohort_message, run_monitoring
from steelthread_monitoring.settings import MonitorSettings
from steelthread_monitoring.skew import OfflineFeatureSource, callable_source, parquet_source

app = typer.Typer(
    help="Monitor the serving model: drift, data quality, performance and skew.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
OWN_LOGGERS = ("steelthread_monitoring",)


def _window_end(text: str | None) -> datetime | None:
    return None if text is None else parse_time(text, "--now")


@app.callback()
def _root() -> None:
    """Keep `run` a sub-command so more (e.g. `backfill`) can join without breaking scripts."""


@app.command()
@cli_errors
def run(
    window: Annotated[str, typer.Option(help="Window length ending now: 30m, 24h, 7d.")] = "24h",
    reference: Annotated[
        Path | None, typer.Option(help="Reference parquet; default: the alias's package.")
    ] = None,
    alias: Annotated[str, typer.Option(help="Model alias whose reference is used.")] = "champion",
    log_dir: Annotated[Path | None, typer.Option(help="Prediction-log folder.")] = None,
    feedback_dir: Annotated[Path | None, typer.Option(help="Feedback (labels) folder.")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder for per-run report.html/summary.json.")
    ] = None,
    textfile: Annotated[
        Path | None, typer.Option(help="node-exporter textfile (*.prom) to replace atomically.")
    ] = None,
    pushgateway: Annotated[str | None, typer.Option(help="Pushgateway URL to push to.")] = None,
    min_labels: Annotated[
        int | None, typer.Option(min=1, help="Labelled rows needed for performance.")
    ] = None,
    labels_optional: Annotated[
        bool,
        typer.Option(
            "--labels-optional",
            help="Exit 0, not 5, when too few labels arrived (for schedulers that retry failures).",
        ),
    ] = False,
    drift_threshold: Annotated[
        float | None, typer.Option(min=1e-6, help="Drift distance counted as drift.")
    ] = None,
    offline_features: Annotated[
        Path | None,
        typer.Option(help="Parquet of offline-recomputed features (request_id + features)."),
    ] = None,
    offline_features_fn: Annotated[
        str | None,
        typer.Option(help="module:function recomputing features offline for a request frame."),
    ] = None,
    skew_sample: Annotated[
        int | None, typer.Option(min=1, help="Requests sampled for the skew check.")
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(help="End of the window (ISO 8601, UTC when no zone is given, or `now`); default: now."),
    ] = None,
    label_delay: Annotated[
        str | None,
        typer.Option(
            help="How long after a prediction its label is expected (0s, 4h, 450d): performance is "
            "evaluated on the cohort ending this long before now. Default: the use case's label_delay."
        ),
    ] = None,
    cohort_window: Annotated[
        str | None, typer.Option(help="Length of the performance cohort; default: --window.")
    ] = None,
    batch_log_dir: Annotated[
        Path | None,
        typer.Option(
            help="A batch run's prediction log (steelthread-batch's <prediction_log_dir>/batch), read "
            "besides the online log."
        ),
    ] = None,
) -> None:
    """Compare the recent window of logged predictions with the serving model's reference (drift, quality,
    skew), and the latest cohort whose labels have had time to arrive with the reference's performance."""
    settings = MonitorSettings()
    source: OfflineFeatureSource | None = None
    if offline_features is not None and offline_features_fn is not None:
        raise typer.BadParameter("give --offline-features or --offline-features-fn, not both")
    function = offline_features_fn or (None if offline_features else settings.monitor_offline_features_fn)
    configure_logging(OWN_LOGGERS, fmt=None)
    with stage_progress("steelthread_monitoring", total=len(STAGES)):
        if offline_features is not None:
            source = parquet_source(offline_features)
        elif function is not None:
            source = callable_source(function)
        options = RunOptions(
            window=parse_duration(window, "--window"),
            now=_window_end(now),
            reference_path=reference,
            alias=alias,
            models_dir=settings.models_dir,
            log_dir=log_dir or settings.prediction_log_dir,
            feedback_dir=feedback_dir or settings.feedback_dir,
            out_dir=out_dir or settings.monitoring_dir,
            textfile=textfile or settings.monitor_textfile,
            pushgateway=pushgateway or settings.monitor_pushgateway,
            min_labels=min_labels or settings.monitor_min_labels,
            labels_optional=labels_optional,
            drift_threshold=drift_threshold or settings.monitor_drift_threshold,
            offline_features=source,
            skew_sample=skew_sample or settings.monitor_skew_sample,
            skew_rtol=settings.monitor_skew_rtol,
            skew_atol=settings.monitor_skew_atol,
            log_dsn=_log_dsn(settings, log_dir),
            label_delay=_label_delay(label_delay, settings),
            cohort_window=(
                parse_duration(cohort_window, "--cohort-window")
                if cohort_window
                else settings.monitor_cohort_window
            ),
            batch_log_dir=batch_log_dir or settings.monitor_batch_log_dir,
            workspace=settings.monitor_workspace,
        )
        outcome = run_monitoring(options)
    summary = outcome.summary
    drift = summary.drift
    console.print(
        f"checked {summary.rows} rows of model {summary.model_name} v{summary.model_version} "
        f"({summary.task}): "
        f"drift share {drift.drift_share:.2f} ({', '.join(drift.drifted) or 'no column drifted'}), "
        f"prediction drift {drift.prediction_score if drift.prediction_score is not None else 'n/a'}, "
        f"missing {summary.quality.overall_missing_share:.3f}, "
        f"labels {summary.performance.labelled_rows}"
    )
    cohort = cohort_message(summary.performance.cohort) if summary.performance.cohort else None
    if cohort is not None:
        console.print(cohort, markup=False)
    console.print(f"report: {outcome.run_dir / 'report.html'}")
    console.print(f"summary: {outcome.run_dir / 'summary.json'}")
    for message in (m for m in summary.messages if m != cohort):
        err.print(f"warning ({int(outcome.exit_code)} {outcome.exit_code.name}): {message}", markup=False)
    raise typer.Exit(int(outcome.exit_code))


@app.command()
@cli_errors
def export(
    window: Annotated[str, typer.Option(help="Window length ending now: 30m, 24h, 7d.")] = "24h",
    log_dir: Annotated[
        Path | None, typer.Option(help="Where predictions-window.jsonl goes; default the log folder.")
    ] = None,
    feedback_dir: Annotated[
        Path | None, typer.Option(help="Where feedback-window.jsonl goes; default the feedback folder.")
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(help="End of the window (ISO 8601, UTC when no zone is given, or `now`); default: now."),
    ] = None,
) -> None:
    """Copy a window of the PostgreSQL prediction log (and its labels) to JSON-lines files, so the runbooks'
    file commands (jq) work on the production log."""
    settings = MonitorSettings()
    if settings.prediction_log_dsn is None:
        fail(
            "no PostgreSQL prediction log to export from",
            ExitCode.USAGE,
            hint="set STEELTHREAD_PREDICTION_LOG_DSN",
        )
    from steelthread_monitoring.pglog import export_window

    configure_logging(OWN_LOGGERS, fmt=None)
    end = _window_end(now) or datetime.now(UTC)
    log_out = log_dir or settings.prediction_log_dir
    feedback_out = feedback_dir or settings.feedback_dir
    assert log_out is not None
    assert feedback_out is not None
    rows, labels = export_window(
        settings.prediction_log_dsn.get_secret_value(),
        end - parse_duration(window, "--window"),
        end,
        log_out,
        feedback_out,
    )
    console.print(f"exported {rows} records to {log_out} and {labels} labels to {feedback_out}")


@app.command()
@cli_errors
def retention(
    now: Annotated[
        str | None,
        typer.Option(help="Delete what is older than the retention before this time (ISO 8601, or `now`)."),
    ] = None,
) -> None:
    """Delete prediction-log records and feedback older than STEELTHREAD_PREDICTION_LOG_RETENTION_DAYS:
    the JSON-lines folders, batch runs' logs and, when configured, the PostgreSQL store."""
    from steelthread_monitoring.retention import apply_retention, check_retention

    settings = MonitorSettings()
    configure_logging(OWN_LOGGERS, fmt=None)
    keep = check_retention(settings.prediction_log_retention_days, settings.label_delay())
    deleted = apply_retention(
        now=_window_end(now) or datetime.now(UTC),
        keep=keep,
        log_dir=settings.prediction_log_dir,
        feedback_dir=settings.feedback_dir,
        spill_dir=settings.prediction_log_spill_dir,
        dsn=settings.prediction_log_dsn.get_secret_value() if settings.prediction_log_dsn else None,
    )
    console.print(deleted.line())


def _label_delay(option: str | None, settings: MonitorSettings) -> timedelta:
    """--label-delay, else the settings' `label_delay()` (the environment, then the use case)."""
    if option is not None:
        return parse_duration(option, "--label-delay", allow_zero=True)
    return settings.label_delay()


def _log_dsn(settings: MonitorSettings, log_dir: Path | None) -> str | None:
    """The PostgreSQL log when one is configured, unless --log-dir names a folder to read instead."""
    if log_dir is not None or settings.prediction_log_dsn is None:
        return None
    return settings.prediction_log_dsn.get_secret_value()


def main() -> None:
    run_cli(app)


__all__ = ["ExitCode", "app", "main"]
