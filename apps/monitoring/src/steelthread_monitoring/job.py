"""One monitoring run: reference + window → Evidently reports, summary.json and Prometheus gauges.

This is the seam the CLI, the scheduler image and tests call; it raises `MonitorError` subclasses for
conditions that stop a run and returns an exit code for conditions that complete with a caveat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from steelthread_contracts import usecase
from steelthread_contracts.durations import format_duration
from steelthread_monitoring.drift import DRIFT_THRESHOLD
from steelthread_monitoring.errors import EmptyWindowError, ExitCode
from steelthread_monitoring.export import build_registry, push, write_textfile
from steelthread_monitoring.reference import Reference, load_reference, resolve_reference_path
from steelthread_monitoring.skew import OfflineFeatureSource, measure_skew
from steelthread_monitoring.summary import (
    DriftSummary,
    PerformanceSummary,
    QualitySummary,
    RecordsSummary,
    SkewSummary,
    Summary,
)
from steelthread_monitoring.window import ENTITY_FIELD, PREDICTION_GLOB, Window, read_window

if TYPE_CHECKING:
    from steelthread_monitoring.analysis import PerformanceResult

logger = logging.getLogger(__name__)

STAGES = ("evidently", "reference", "window", "drift", "performance", "skew", "report", "export")
"""The stages a full run announces (log event `stage`), in order: the CLI's progress bar counts them."""


def _stage(name: str, message: str, **fields: object) -> None:
    """One log line (event `stage`) as a stage starts: progress in a scheduler's log and on a terminal."""
    logger.info(message, extra={"event": "stage", "stage": name, **fields})


@dataclass(frozen=True)
class RunOptions:
    window: timedelta
    log_dir: Path
    out_dir: Path
    models_dir: Path
    alias: str = "champion"
    reference_path: Path | None = None
    feedback_dir: Path | None = None
    now: datetime | None = None
    textfile: Path | None = None
    pushgateway: str | None = None
    min_labels: int = 200
    labels_optional: bool = False
    drift_threshold: float = DRIFT_THRESHOLD
    offline_features: OfflineFeatureSource | None = None
    skew_sample: int = 1000
    skew_rtol: float = 1e-6
    skew_atol: float = 1e-6
    log_dsn: str | None = None
    """Read the window from PostgreSQL (serving's PostgreSQL sink) instead of log_dir/feedback_dir."""
    label_delay: timedelta = timedelta(0)
    """How long after a prediction its label is expected (the CLI passes the use case's `label_delay`).
    Drift and quality are checked on the recent window; performance on the cohort of the same length (or
    `cohort_window`) ending at `now - label_delay`. Zero: the recent window is the cohort."""
    cohort_window: timedelta | None = None
    """Length of the performance cohort; None: `window`."""
    batch_log_dir: Path | None = None
    """A batch run's parquet prediction log (steelthread-batch's `<prediction_log_dir>/batch`), read besides
    the online log."""
    workspace: Path | None = None
    """Evidently workspace every run's reports are added to; default `<out_dir>/evidently-workspace`."""


@dataclass(frozen=True)
class RunOutcome:
    summary: Summary
    run_dir: Path
    exit_code: ExitCode


def run_monitoring(options: RunOptions) -> RunOutcome:
    """Run every check; write outputs; return the exit code the process should end with."""
    started = datetime.now(UTC)
    # Evidently takes seconds to import; loaded in the run, so importing the CLI stays quick.
    _stage("evidently", "loading Evidently")
    from steelthread_monitoring.analysis import (
        CAT_METHOD,
        NUM_METHOD,
        ReportContext,
        analyse_drift_and_quality,
        analyse_performance,
    )
    from steelthread_monitoring.workspace import WORKSPACE_DIR, save_runs

    end = options.now or started
    start = end - options.window
    _stage("reference", "reading the reference", alias=options.alias)
    path = options.reference_path or resolve_reference_path(options.models_dir, options.alias)
    reference = load_reference(path)
    age = _model_age(reference, end)
    run_dir = _new_run_dir(options.out_dir, started)
    base = {
        "run_id": run_dir.name,
        "started_at": started,
        "window_start": start,
        "window_end": end,
        "reference_path": str(path),
        "model_name": reference.model_name,
        "model_version": reference.model_version,
        "task": reference.task.value,
        "model_age_seconds": age,
    }
    drift_base = {
        "method_numerical": NUM_METHOD,
        "method_categorical": CAT_METHOD,
        "threshold": options.drift_threshold,
    }
    _stage("window", "reading the window", window_start=start, window_end=end)
    window = _read(options, start, end, reference, skew=options.offline_features is not None)
    records = _record_messages(window.log_records, window.feedback_records)
    if window.empty:
        source = f"{options.log_dir}/{PREDICTION_GLOB}" if options.log_dsn is None else _log_source(options)
        message = f"no prediction-log rows in {source} between {start.isoformat()} and {end.isoformat()}"
        summary = Summary(
            **base,
            finished_at=datetime.now(UTC),
            rows=0,
            log_files=[_log_source(options)] if options.log_dsn else [str(p) for p in window.files],
            drift=DriftSummary(**drift_base),
            quality=QualitySummary(),
            performance=PerformanceSummary(task=reference.task.value, min_labels=options.min_labels),
            prediction_log=window.log_records,
            exit_code=int(ExitCode.EMPTY_WINDOW),
            messages=[message, *records],
        )
        _write_summary(run_dir, summary)
        _export(summary, options)
        raise EmptyWindowError("; ".join([message, *records]))

    context = ReportContext(
        use_case=_use_case_name(),
        model_name=reference.model_name,
        model_version=reference.model_version,
        window_start=start,
        window_end=end,
    )
    _stage("drift", "drift and data quality", rows=len(window.frame))
    drift, quality = analyse_drift_and_quality(reference, window.frame, options.drift_threshold, context)
    _stage("performance", "performance")
    cohort_start, cohort_end = _cohort_bounds(options, end)
    cohort = (
        window
        if (cohort_start, cohort_end) == (start, end)
        else _read(options, cohort_start, cohort_end, reference, skew=False)
    )
    coverage = len(cohort.labelled) / len(cohort.frame) if not cohort.empty else None
    cohort_note = _cohort_note(options, cohort_start, cohort_end, len(cohort.frame), len(cohort.labelled))
    performance = analyse_performance(reference, cohort.frame, options.min_labels, cohort_note, context)
    estimated = estimated_performance(reference, window)
    skew = None
    _stage("skew", "training/serving skew", enabled=options.offline_features is not None)
    if options.offline_features is not None:
        features = reference.feature_names or reference.numerical_columns
        result = measure_skew(
            window.frame,
            window.requests,
            [f for f in features if f in reference.numerical_columns],
            options.offline_features,
            options.skew_sample,
            options.skew_rtol,
            options.skew_atol,
        )
        skew = SkewSummary(
            sampled=result.sampled,
            compared=result.compared,
            skewed_rows=result.skewed_rows,
            skew_share=result.skew_share,
            feature_skew_share=result.feature_skew_share,
        )

    _stage("report", "writing the report", run_dir=run_dir)
    report_html = run_dir / "report.html"
    report_html.write_text(drift.html, encoding="utf-8")
    performance_html = None
    if performance.html is not None:
        performance_html = run_dir / "performance.html"
        performance_html.write_text(performance.html, encoding="utf-8")

    workspace = options.workspace or options.out_dir / WORKSPACE_DIR
    save_runs(workspace, context, [s for s in (drift.snapshot, performance.snapshot) if s is not None])
    messages, code = _caveats(window.unseen_columns, performance, options.labels_optional)
    messages.insert(0, cohort_message(cohort_note))
    summary = Summary(
        **base,
        finished_at=datetime.now(UTC),
        rows=len(window.frame),
        log_files=[_log_source(options)] if options.log_dsn else [str(p) for p in window.files],
        unseen_columns=window.unseen_columns,
        absent_columns=window.absent_columns,
        drift=DriftSummary(
            **drift_base,
            feature_scores=drift.feature_scores,
            drifted=drift.drifted,
            drift_share=drift.drift_share,
            prediction_score=drift.prediction_score,
            prediction_drifted=(drift.prediction_score or 0.0) >= options.drift_threshold,
        ),
        quality=QualitySummary(
            missing_share=quality.missing_share,
            reference_missing_share=quality.reference_missing_share,
            out_of_range_share=quality.out_of_range_share,
            new_category_share=quality.new_category_share,
            new_categories=quality.new_categories,
            type_changes=window.type_changes,
            overall_missing_share=quality.overall_missing_share,
            overall_out_of_range_share=quality.overall_out_of_range_share,
            overall_new_category_share=quality.overall_new_category_share,
        ),
        performance=PerformanceSummary(
            task=performance.task.value,
            cohort=cohort_note,
            cohort_start=cohort_start,
            cohort_end=cohort_end,
            label_delay_seconds=options.label_delay.total_seconds(),
            cohort_rows=len(cohort.frame),
            labelled_rows=performance.labelled_rows,
            label_coverage=coverage,
            min_labels=options.min_labels,
            evaluated=performance.evaluated,
            reason=performance.reason,
            current=performance.current,
            reference=performance.reference,
            estimated=estimated,
        ),
        skew=skew,
        prediction_log=window.log_records,
        feedback=window.feedback_records,
        report_html=str(report_html),
        performance_html=str(performance_html) if performance_html else None,
        evidently_workspace=str(workspace),
        exit_code=int(code),
        messages=[*messages, *records],
    )
    _write_summary(run_dir, summary)
    _stage("export", "exporting the gauges")
    _export(summary, options)
    logger.info(
        "monitoring run finished: exit %d %s",
        int(code),
        code.name,
        extra={"event": "run_finished", "exit_code": int(code), "rows": summary.rows, "run_dir": run_dir},
    )
    return RunOutcome(summary=summary, run_dir=run_dir, exit_code=code)


def cohort_message(note: str) -> str:
    """The message that reports the performance cohort (information, not a caveat: the CLI prints it on
    stdout, not as a warning)."""
    return f"performance cohort: {note}"


def _cohort_bounds(options: RunOptions, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the latest cohort whose labels have had time to arrive."""
    end = now - options.label_delay
    return end - (options.cohort_window or options.window), end


def _cohort_note(options: RunOptions, start: datetime, end: datetime, rows: int, labelled: int) -> str:
    """The cohort in words, for messages, the reason of a skipped evaluation and the performance report."""
    coverage = f"{labelled / rows:.1%}" if rows else "n/a"
    return (
        f"predictions logged {start.isoformat()} to {end.isoformat()} "
        f"(label delay {format_duration(options.label_delay)}): {labelled} of {rows} labelled, "
        f"label coverage {coverage}"
    )


def _caveats(
    unseen: list[str], performance: PerformanceResult, labels_optional: bool
) -> tuple[list[str], ExitCode]:
    """Conditions that still produce a full report; the more serious one decides the exit code."""
    messages: list[str] = []
    code = ExitCode.OK
    if not performance.evaluated:
        messages.append(f"performance not evaluated: {performance.reason}")
        if not labels_optional:
            code = ExitCode.NO_LABELS
    if unseen:
        messages.append(
            "prediction log has feature columns the reference lacks (wrong reference or a new "
            f"feature?): {', '.join(unseen)}"
        )
        code = ExitCode.UNSEEN_COLUMNS
    return messages, code


def _record_messages(log: RecordsSummary, feedback: RecordsSummary) -> list[str]:
    """One line per input that held malformed records: they never leave a report without a word."""
    lines = []
    for name, records in (("prediction-log", log), ("feedback", feedback)):
        if records.malformed:
            reasons = ", ".join(f"{reason} {n}" for reason, n in records.malformed_by_reason.items())
            first = records.malformed_examples[0]
            lines.append(f"{records.malformed} malformed {name} records skipped ({reasons}); first: {first}")
    return lines


def _read(options: RunOptions, start: datetime, end: datetime, reference: Reference, skew: bool) -> Window:
    """[start, end) from the folders, or from PostgreSQL through the same reader
    (steelthread_monitoring.pglog; psycopg is imported only then), plus a batch run's parquet log when one
    is named. Labels count when they had arrived by the run's `now`."""
    entity_key = _entity_key() if skew else ENTITY_FIELD

    def read(log_dir: Path, feedback_dir: Path | None) -> Window:
        return read_window(
            log_dir,
            feedback_dir,
            start,
            end,
            reference,
            with_requests=skew,
            entity_key=entity_key,
            batch_log_dir=options.batch_log_dir,
            labels_until=options.now,
        )

    if options.log_dsn is None:
        return read(options.log_dir, options.feedback_dir)
    from steelthread_monitoring.pglog import exported_window

    with exported_window(options.log_dsn, start, end, options.out_dir) as (log_dir, feedback_dir):
        return read(log_dir, feedback_dir)


def _log_source(options: RunOptions) -> str:
    from steelthread_monitoring.pglog import describe

    assert options.log_dsn is not None
    return f"postgresql://{describe(options.log_dsn)}"


def estimated_performance(reference: Reference, window: Window) -> dict[str, float]:
    """CBPE on the whole current window, before its labels arrive: a binary model whose reference has
    labels (steelthread_monitoring.cbpe); nothing otherwise."""
    import numpy as np

    from steelthread_contracts.package import Task
    from steelthread_monitoring.cbpe import estimate
    from steelthread_monitoring.reference import LABEL_COLUMN, SCORE_COLUMN

    frame = reference.frame
    if reference.task is not Task.BINARY or LABEL_COLUMN not in frame.columns or window.empty:
        return {}
    found = estimate(
        frame[SCORE_COLUMN].to_numpy(dtype=np.float64),
        frame[LABEL_COLUMN].fillna(-1).to_numpy(dtype=np.int64),
        window.frame[SCORE_COLUMN].to_numpy(dtype=np.float64),
    )
    if found is None:
        return {}
    return {name: value for name, value in found.as_dict().items() if np.isfinite(value)}


def _use_case_name() -> str:
    """The active use case's name for report titles; a bare reference without one installed says so."""
    try:
        return usecase.active().name
    except usecase.UseCaseError:
        return "no use case"


def _entity_key() -> str:
    """The column the skew seam's requests carry the entity key in: the active use case's join key (what its
    feature library joins on), or the log's own field name where no use case is installed (a parquet source
    joins on request_id and needs neither)."""
    try:
        return usecase.active().join_key
    except usecase.UseCaseError:
        return ENTITY_FIELD


def _model_age(reference: Reference, now: datetime) -> float | None:
    created = reference.created_at
    if created is None:
        return None
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return max(0.0, (now - created).total_seconds())


def _new_run_dir(out_dir: Path, started: datetime) -> Path:
    """One folder per run, named by its UTC start, so runs sort by time and never overwrite."""
    stem = started.strftime("%Y%m%dT%H%M%SZ")
    for n in range(1000):
        candidate = out_dir / (stem if n == 0 else f"{stem}-{n}")
        try:
            candidate.mkdir(parents=True)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"too many runs named {stem} under {out_dir}")


def _write_summary(run_dir: Path, summary: Summary) -> None:
    (run_dir / "summary.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    _point_latest(run_dir)


def _point_latest(run_dir: Path) -> None:
    """`<out>/latest` → newest run, swapped atomically, so runbooks and people need no `ls | tail`."""
    link = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest-{run_dir.name}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_dir.name, target_is_directory=True)
    tmp.replace(link)


def _export(summary: Summary, options: RunOptions) -> None:
    registry = build_registry(summary)
    if options.textfile is not None:
        write_textfile(registry, options.textfile)
    if options.pushgateway is not None:
        push(registry, options.pushgateway, instance=summary.model_name or "steelthread")
