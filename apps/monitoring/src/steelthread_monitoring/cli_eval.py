"""`steelthread-eval`: the model evaluation store (every version on the same datasets) and the paired
champion/challenger comparison on shadow traffic.

- `compare`: the stored evaluations as one table (and a plot), by dataset and version;
- `backfill`: keep the newest labelled production cohort and evaluate every registered version on it (the
  monitor workflow runs it after the monitoring job);
- `test-sets`: every version and the champion on each version's own test set, every version on the
  champion's;
- `paired`: champion against challenger on the labelled requests both scored, with a paired test, and the
  verdict stored.

The store is MLflow (ADR 0016): the SQLite and file store under the data folder locally, the MLflow server
in production (STEELTHREAD_MLFLOW_TRACKING_URI).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from steelthread_contracts import package, usecase
from steelthread_contracts.cells import cell
from steelthread_contracts.cli import cli_errors, console, err, parse_duration, parse_time
from steelthread_contracts.cli import run as run_cli
from steelthread_monitoring.errors import InvalidInputError, MissingReferenceError
from steelthread_monitoring.reference import Reference, load_reference
from steelthread_monitoring.settings import MonitorSettings

app = typer.Typer(
    help="The model evaluation store: every version on the same datasets; paired champion/challenger tests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Window = Annotated[str, typer.Option(help="Length of the cohort: 24h, 7d.")]
End = Annotated[
    str | None,
    typer.Option(
        help="End of the cohort (ISO 8601 or `now`); default: now minus the use case's label delay."
    ),
]
LogDir = Annotated[Path | None, typer.Option(help="Prediction-log folder (instead of the configured log).")]
FeedbackDir = Annotated[Path | None, typer.Option(help="Feedback (labels) folder.")]


def _range(window: str, end: str | None, settings: MonitorSettings) -> tuple[datetime, datetime]:
    stop = parse_time(end, "--end") if end else datetime.now(UTC) - settings.label_delay()
    return stop - parse_duration(window, "--window"), stop


def _reference(
    settings: MonitorSettings, *, alias: str | None = None, version: str | None = None
) -> Reference:
    """The published package's reference of an alias or a version (its columns and its logged score)."""
    try:
        folder = package.resolve(settings.models_dir, alias=alias, version=version)
    except package.PackageError as exc:
        raise MissingReferenceError(str(exc)) from None
    return load_reference(folder / package.REFERENCE_FILE)


@app.command()
@cli_errors
def compare(
    versions: Annotated[
        list[str] | None, typer.Option("--version", help="Only these versions (repeat the option).")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="Only this dataset (name, e.g. test:v3, or fingerprint prefix).")
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="Also write a PNG of the primary metric here.")] = None,
) -> None:
    """Every stored evaluation as one table: dataset by dataset, each version's task metrics."""
    import pandas as pd

    from steelthread_training.evalstore import EvaluationStore
    from steelthread_training.settings import TrainingSettings
    from steelthread_training.tasks import task_kind
    from steelthread_training.tracking import Registry

    registry = Registry(TrainingSettings())
    found = EvaluationStore(registry).evaluations(versions, dataset=dataset)
    if not found:
        raise InvalidInputError(
            "the evaluation store has no evaluation"
            + (f" of version {', '.join(versions)}" if versions else "")
            + (f" on dataset {dataset}" if dataset else "")
            + "; run `steelthread-eval backfill` (or promote, which evaluates the candidate)"
        )
    kind = task_kind(found[0].task or usecase.active().task)
    champion = registry.alias_version("champion")
    ordered = sorted(
        found,
        key=lambda e: (
            e.dataset.end or datetime.min.replace(tzinfo=UTC),
            e.dataset.name,
            len(e.version),
            e.version,
        ),
    )
    table = Table(title=f"evaluation store: {registry.model_name} ({kind.task}); * = champion")
    for column in ("dataset", "kind", "rows", "time range", "version", *kind.summary):
        table.add_column(column)
    for e in ordered:
        span = (
            f"{e.dataset.start:%Y-%m-%d %H:%M}..{e.dataset.end:%Y-%m-%d %H:%M}"
            if e.dataset.start and e.dataset.end
            else "-"
        )
        star = "*" if e.version == champion else ""
        table.add_row(
            e.dataset.name,
            e.dataset.kind,
            str(e.dataset.rows),
            span,
            f"v{e.version}{star}",
            *(cell(e.metrics.get(m)) for m in kind.summary),
        )
    console.print(table)
    if plot is not None:
        from steelthread_training.evalplot import compare_plot

        frame = pd.DataFrame(
            [
                {"dataset": e.dataset.name, "version": e.version, kind.primary: e.metrics.get(kind.primary)}
                for e in ordered
            ]
        )
        plot.parent.mkdir(parents=True, exist_ok=True)
        plot.write_bytes(compare_plot(frame, kind.primary))
        console.print(f"plot: {plot}")


@app.command()
@cli_errors
def backfill(
    window: Window = "7d",
    end: End = None,
    versions: Annotated[
        list[str] | None,
        typer.Option("--version", help="Only these versions (default: every registered one)."),
    ] = None,
    min_labels: Annotated[int | None, typer.Option(min=1, help="Labelled rows the cohort needs.")] = None,
    alias: Annotated[
        str, typer.Option(help="Alias whose reference names the cohort's columns.")
    ] = "champion",
    log_dir: LogDir = None,
    feedback_dir: FeedbackDir = None,
) -> None:
    """Keep the labelled cohort of [end - window, end) in the store and evaluate every version on it."""
    from steelthread_monitoring.cohort import LogSource, cohort
    from steelthread_training.config import load_config
    from steelthread_training.evidence import backfill as do_backfill
    from steelthread_training.settings import TrainingSettings
    from steelthread_training.tracking import Registry

    settings = MonitorSettings()
    start, stop = _range(window, end, settings)
    reference = _reference(settings, alias=alias)
    dataset = cohort(
        LogSource.of(settings, log_dir, feedback_dir),
        start,
        stop,
        reference,
        min_rows=min_labels or settings.monitor_min_labels,
    )
    training = TrainingSettings()
    measured = do_backfill(Registry(training), dataset, load_config(training.training_config), versions)
    info = measured.dataset
    console.print(
        f"{info.name}: {info.rows} labelled rows, fingerprint {info.fingerprint[:12]}; "
        f"{len(measured.new)} new evaluation(s) (v{', v'.join(measured.new) or '-'}), "
        f"{len(measured.stored) - len(measured.new)} already stored"
    )
    for version, why in measured.skipped.items():
        err.print(f"warning: v{version} not evaluated: {why}", markup=False)


@app.command("test-sets")
@cli_errors
def evaluate_test_sets(
    versions: Annotated[
        list[str] | None, typer.Option("--version", help="Only these versions (default: every one).")
    ] = None,
) -> None:
    """Evaluate every version, and the champion, on the version's own test set, and every version on the
    champion's test set."""
    from steelthread_training.config import load_config
    from steelthread_training.evidence import measure_test_sets
    from steelthread_training.settings import TrainingSettings
    from steelthread_training.tracking import Registry

    training = TrainingSettings()
    results = measure_test_sets(Registry(training), load_config(training.training_config), versions)
    for measured in results:
        info = measured.dataset
        console.print(
            f"{info.name}: {info.rows} rows; {len(measured.new)} new evaluation(s), "
            f"{len(measured.stored) - len(measured.new)} already stored"
        )
        for version, why in measured.skipped.items():
            err.print(f"warning: v{version} not evaluated on {info.name}: {why}", markup=False)


@app.command()
@cli_errors
def paired(
    challenger: Annotated[str, typer.Option(help="The challenger version (its shadow scores are compared).")],
    champion: Annotated[
        str | None, typer.Option(help="The champion version; default: the published champion.")
    ] = None,
    window: Window = "7d",
    end: End = None,
    min_rows: Annotated[int, typer.Option(min=3, help="Paired labelled rows before any verdict.")] = 200,
    alpha: Annotated[float, typer.Option(min=1e-6, max=0.5, help="Significance level.")] = 0.05,
    record: Annotated[bool, typer.Option(help="Store the verdict in the evaluation store.")] = True,
    log_dir: LogDir = None,
    feedback_dir: FeedbackDir = None,
) -> None:
    """Champion against challenger on the labelled requests both scored (shadow): DeLong's test of the AUC
    difference (binary), a paired t-test of absolute errors (regression). Exit 0 with a verdict, 5 when too
    few rows are labelled yet."""
    from steelthread_monitoring.cohort import LogSource, NoLabelsError
    from steelthread_monitoring.cohort import paired as paired_rows
    from steelthread_training.evalstore import EvaluationStore
    from steelthread_training.paired import compare as compare_paired
    from steelthread_training.settings import TrainingSettings
    from steelthread_training.tracking import Registry

    settings = MonitorSettings()
    start, stop = _range(window, end, settings)
    if champion is None:
        pointer = package.read_pointer(settings.models_dir, "champion")
        if pointer is None:
            raise MissingReferenceError("no champion is published: name one with --champion")
        champion = pointer.version
    first = _reference(settings, version=champion)
    second = _reference(settings, version=challenger)
    rows = paired_rows(LogSource.of(settings, log_dir, feedback_dir), start, stop, first, second)
    verdict = compare_paired(
        first.task,
        rows["label"].to_numpy(),
        rows["champion"].to_numpy(),
        rows["challenger"].to_numpy(),
        champion_version=champion,
        challenger_version=challenger,
        min_rows=min_rows,
        alpha=alpha,
        window={"start": start.isoformat(), "end": stop.isoformat()},
    )
    if record and verdict.verdict != "insufficient":
        run_id = EvaluationStore(Registry(TrainingSettings())).record_verdict(
            verdict.document(), verdict.metrics()
        )
        console.print(f"verdict stored: run {run_id}")
    if verdict.verdict == "insufficient":
        raise NoLabelsError(verdict.describe())
    console.print(verdict.describe(), markup=False)


def main() -> None:
    run_cli(app)


__all__ = ["app", "main"]
