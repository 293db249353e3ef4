"""`steelthread-monitor`: the scheduled monitoring job's command line.

Exit codes are documented in errors.ExitCode and docs/monitoring.md; every expected failure prints one
readable line on stderr instead of a traceback.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from steelthread_monitoring.errors import ExitCode, MonitorError
from steelthread_monitoring.job import RunOptions, run_monitoring
from steelthread_monitoring.settings import MonitorSettings
from steelthread_monitoring.skew import OfflineFeatureSource, callable_source, parquet_source

app = typer.Typer(
    help="Monitor the serving model: drift, data quality, performance and skew.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_window(text: str) -> timedelta:
    """'90s', '30m', '24h', '7d', '2w' → timedelta."""
    match = re.fullmatch(r"(\d+)([smhdw])", text.strip())
    if match is None or int(match.group(1)) == 0:
        raise typer.BadParameter(f"{text!r}: use a positive number with s, m, h, d or w, e.g. 24h")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not an ISO-8601 time") from exc
    if value.tzinfo is None:
        raise typer.BadParameter(f"{text!r} needs a timezone, e.g. 2026-11-22T12:00:00+00:00")
    return value


@app.callback()
def _root() -> None:
    """Keep `run` a sub-command so more (e.g. `backfill`) can join without breaking scripts."""


@app.command()
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
        str | None, typer.Option(help="End of the window (ISO-8601 with zone); default: now.")
    ] = None,
) -> None:
    """Compare the window of logged predictions with the serving model's reference."""
    settings = MonitorSettings()
    assert settings.models_dir is not None
    assert settings.prediction_log_dir is not None
    assert settings.monitoring_dir is not None
    source: OfflineFeatureSource | None = None
    if offline_features is not None and offline_features_fn is not None:
        raise typer.BadParameter("give --offline-features or --offline-features-fn, not both")
    try:
        if offline_features is not None:
            source = parquet_source(offline_features)
        elif offline_features_fn is not None:
            source = callable_source(offline_features_fn)
        options = RunOptions(
            window=parse_window(window),
            now=_parse_now(now),
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
            workspace=settings.monitor_workspace,
        )
        outcome = run_monitoring(options)
    except MonitorError as exc:
        err.print(f"[bold red]error[/] ({int(exc.exit_code)} {exc.exit_code.name}): {exc.message}")
        raise typer.Exit(int(exc.exit_code)) from None
    summary = outcome.summary
    drift = summary.drift
    out.print(
        f"checked {summary.rows} rows of model {summary.model_name} v{summary.model_version} "
        f"({summary.task}): "
        f"drift share {drift.drift_share:.2f} ({', '.join(drift.drifted) or 'no column drifted'}), "
        f"prediction drift {drift.prediction_score if drift.prediction_score is not None else 'n/a'}, "
        f"missing {summary.quality.overall_missing_share:.3f}, "
        f"labels {summary.performance.labelled_rows}"
    )
    out.print(f"report: {outcome.run_dir / 'report.html'}")
    out.print(f"summary: {outcome.run_dir / 'summary.json'}")
    for message in summary.messages:
        err.print(f"[yellow]warning[/] ({int(outcome.exit_code)} {outcome.exit_code.name}): {message}")
    raise typer.Exit(int(outcome.exit_code))


@app.command()
def export(
    window: Annotated[str, typer.Option(help="Window length ending now: 30m, 24h, 7d.")] = "24h",
    log_dir: Annotated[
        Path | None, typer.Option(help="Where predictions-window.jsonl goes; default the log folder.")
    ] = None,
    feedback_dir: Annotated[
        Path | None, typer.Option(help="Where feedback-window.jsonl goes; default the feedback folder.")
    ] = None,
    now: Annotated[
        str | None, typer.Option(help="End of the window (ISO-8601 with zone); default: now.")
    ] = None,
) -> None:
    """Copy a window of the PostgreSQL prediction log (and its labels) to JSON-lines files, so the runbooks'
    file commands (jq) work on the production log."""
    settings = MonitorSettings()
    if settings.prediction_log_dsn is None:
        err.print(f"[bold red]error[/] ({int(ExitCode.USAGE)} USAGE): set STEELTHREAD_PREDICTION_LOG_DSN")
        raise typer.Exit(int(ExitCode.USAGE))
    from steelthread_monitoring.pglog import export_window

    end = _parse_now(now) or datetime.now(UTC)
    log_out = log_dir or settings.prediction_log_dir
    feedback_out = feedback_dir or settings.feedback_dir
    assert log_out is not None
    assert feedback_out is not None
    try:
        rows, labels = export_window(
            settings.prediction_log_dsn.get_secret_value(),
            end - parse_window(window),
            end,
            log_out,
            feedback_out,
        )
    except MonitorError as exc:
        err.print(f"[bold red]error[/] ({int(exc.exit_code)} {exc.exit_code.name}): {exc.message}")
        raise typer.Exit(int(exc.exit_code)) from None
    out.print(f"exported {rows} records to {log_out} and {labels} labels to {feedback_out}")


def _log_dsn(settings: MonitorSettings, log_dir: Path | None) -> str | None:
    """The PostgreSQL log when one is configured, unless --log-dir names a folder to read instead."""
    if log_dir is not None or settings.prediction_log_dsn is None:
        return None
    return settings.prediction_log_dsn.get_secret_value()


def main() -> None:
    app()


__all__ = ["ExitCode", "app", "main", "parse_window"]
