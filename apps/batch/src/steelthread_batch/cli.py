"""`steelthread-batch`: batch scoring and large training sets, embedded by default, Spark on request.

Every failure is one `error:` line on stderr and a non-zero exit; the summary line
`rows in=N scored=S quarantined=Q` is printed for every finished run (in = scored + quarantined).
"""

from __future__ import annotations

import json
import logging
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from steelthread_batch import sessions
from steelthread_batch.errors import BatchInputError
from steelthread_batch.package import resolve_package
from steelthread_batch.run import RunSummary
from steelthread_batch.settings import BatchSettings, Device, Engine
from steelthread_contracts.cli import STAGE_EVENT, cli_errors, err, run
from steelthread_contracts.logs import configure_logging
from steelthread_contracts.package import Task
from steelthread_contracts.usecase import active
from steelthread_features.settings import FeatureSettings

app = typer.Typer(
    name="steelthread-batch",
    help="Score decision requests in bulk and build training sets at scale (local engine or Apache Spark).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(highlight=False, soft_wrap=True)
logger = logging.getLogger("steelthread_batch")
_SLICES_HELP = "Add the use case's stored slice columns ({}).".format(
    ", ".join(active().stored_slices) or "none"
)

InputOpt = Annotated[
    str, typer.Option("--input", help="Parquet file or folder (path or URI) of decision requests.")
]
OutputOpt = Annotated[
    str, typer.Option("--output", help="Output folder (path or URI); must be new or a resumable run.")
]
EngineOpt = Annotated[Engine | None, typer.Option("--engine", help="local (default) or spark.")]
MasterOpt = Annotated[
    str | None,
    typer.Option("--spark-master", help="Spark master URL (default: spark-submit's, else local[*])."),
]


@app.callback()
def _logs() -> None:
    """Logs as JSON lines when stderr is not a terminal (a scheduler's log), else readable text."""
    configure_logging(("steelthread_batch",), fmt=None)


def _progress_line(done: int, total: int) -> None:
    logger.info(
        "scored %d of %d rows",
        done,
        total,
        extra={"event": STAGE_EVENT, "stage": "score", "done": done, "total": total},
    )


def _print_summary(summary: RunSummary) -> None:
    resumed = f" (resumed: {summary.parts_resumed} of {summary.parts} parts were already done)"
    console.print(
        f"run {summary.run_id}: rows in={summary.rows_in} scored={summary.scored} "
        f"quarantined={summary.quarantined} model={summary.model_version} engine={summary.engine} "
        f"in {summary.seconds:.1f}s{resumed if summary.parts_resumed else ''}",
        markup=False,
    )
    console.print(f"output: {summary.output}", markup=False)
    if summary.prediction_log:
        console.print(f"prediction log: {summary.prediction_log}", markup=False)


@app.command()
@cli_errors
def score(
    input_uri: InputOpt,
    output_uri: OutputOpt,
    alias: Annotated[str | None, typer.Option("--alias", help="Model alias (default champion).")] = None,
    version: Annotated[str | None, typer.Option("--version", help="Explicit model version.")] = None,
    engine: EngineOpt = None,
    spark_master: MasterOpt = None,
    device: Annotated[Device, typer.Option("--device", help="cpu, or cuda (tensorised forest).")] = "cpu",
    rows_per_part: Annotated[int | None, typer.Option("--rows-per-part", min=1, help="Commit unit.")] = None,
    no_prediction_log: Annotated[
        bool, typer.Option("--no-prediction-log", help="Do not write prediction-log records.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
    reasons: Annotated[
        bool,
        typer.Option(
            "--reasons",
            help="Write each row's reason codes (reason_codes: an adverse decision's, largest first); the "
            "package must ship its booster. Local engine only.",
        ),
    ] = False,
) -> None:
    """Score decision requests with a published model package; resumes an unfinished run in OUTPUT."""
    settings = BatchSettings()
    package = resolve_package(settings.models_dir, alias=alias, version=version)
    sessions.smoke_check(package)
    if reasons:
        if (engine or settings.batch_engine) == "spark":
            raise BatchInputError("--reasons runs with the local engine only")
        package = package.with_reasons()
        sessions.explainer_for(package)  # a booster that cannot load fails here, before any row
    role = alias or ("champion" if version is None else "pinned")
    log_dir = None if no_prediction_log else str(settings.prediction_log_dir)
    chosen = engine or settings.batch_engine
    if device == "cuda":
        from steelthread_batch.gpu import check_available

        if package.task is not Task.BINARY:
            raise BatchInputError(f"--device cuda scores binary packages; this one is {package.task.value}")

        check_available()
    if chosen == "spark":
        if device != "cpu":
            raise BatchInputError("--device cuda runs with the local engine only")
        from steelthread_batch.spark_engine import SparkJob, run_spark

        summary = run_spark(
            SparkJob(
                input_uri=input_uri,
                output_uri=output_uri,
                package=package,
                role=role,
                prediction_log_dir=log_dir,
                master=spark_master or settings.spark_master,
                shuffle_partitions=settings.spark_shuffle_partitions,
                driver_memory=settings.spark_driver_memory,
                threads=settings.batch_threads or 1,
                arrow_rows=settings.batch_arrow_rows,
                feature_settings=_feature_settings(),
                log_policy=settings.log_policy(active()),
            )
        )
    else:
        if spark_master:
            raise BatchInputError("--spark-master needs --engine spark")
        from steelthread_batch.local_engine import LocalJob, run_local

        job = LocalJob(
            input_uri=input_uri,
            output_uri=output_uri,
            package=package,
            role=role,
            prediction_log_dir=log_dir,
            rows_per_part=rows_per_part or settings.batch_rows_per_part,
            batch_rows=settings.batch_arrow_rows,
            threads=settings.batch_threads,
            device=device,
            feature_settings=_feature_settings(),
            log_policy=settings.log_policy(active()),
        )
        logger.info(
            "scoring %s with %s v%s",
            input_uri,
            package.name,
            package.version,
            extra={"event": "batch_started", "engine": "local", "model_version": package.version},
        )
        if not err.is_terminal:  # a scheduler's log: one JSON line per committed part
            summary = run_local(job, _progress_line)
        else:
            with Progress(
                TextColumn("scoring"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            ) as progress:
                task = progress.add_task("score", total=None)
                summary = run_local(
                    job, lambda done, total: progress.update(task, completed=done, total=total)
                )
    logger.info(
        "batch run %s finished",
        summary.run_id,
        extra={
            "event": "batch_finished",
            "rows_in": summary.rows_in,
            "scored": summary.scored,
            "quarantined": summary.quarantined,
            "model_version": summary.model_version,
        },
    )
    if as_json:
        console.print_json(json.dumps(summary.as_json()))
    else:
        _print_summary(summary)


@app.command("training-set")
@cli_errors
def training_set(
    entities: Annotated[str, typer.Option("--entities", help="Parquet entity frame (path or URI).")],
    output_uri: OutputOpt,
    engine: EngineOpt = None,
    spark_master: MasterOpt = None,
    with_slices: Annotated[bool, typer.Option("--with-slices", help=_SLICES_HELP)] = False,
) -> None:
    """Point-in-time training frame with training_frame's columns and order, written as parquet."""
    from steelthread_batch.training_set import TrainingSetJob, build_training_set

    settings = BatchSettings()
    chosen = engine or settings.batch_engine
    if chosen != "spark" and spark_master:
        raise BatchInputError("--spark-master needs --engine spark")
    result = build_training_set(
        TrainingSetJob(
            entities_uri=entities,
            output_uri=output_uri,
            engine=chosen,
            master=spark_master or settings.spark_master,
            with_slices=with_slices,
            shuffle_partitions=settings.spark_shuffle_partitions,
            driver_memory=settings.spark_driver_memory,
            feature_settings=_feature_settings(),
        )
    )
    console.print(
        f"training set: rows={result.rows} columns={len(result.columns)} engine={chosen} "
        f"in {result.seconds:.1f}s -> {result.output}",
        markup=False,
    )


def _feature_settings() -> FeatureSettings:
    """The feature library's own settings (same STEELTHREAD_* environment); the Spark engine needs
    STEELTHREAD_OFFLINE_STORE_KIND=spark and a registry applied for it."""
    return FeatureSettings()


def main() -> None:
    run(app)
