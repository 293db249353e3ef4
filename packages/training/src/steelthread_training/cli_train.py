"""`steelthread-train`: build the training set, train, gate, export and register a model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from steelthread_contracts.cells import cell
from steelthread_contracts.cli import cli_errors, console, err, parse_time, run
from steelthread_training.config import load_config
from steelthread_training.errors import DataValidationError, GateRefusedError
from steelthread_training.frame import USE_CASE
from steelthread_training.settings import DEFAULT_MODEL_NAME, TrainingSettings
from steelthread_training.timing import StageTimer
from steelthread_training.validation import ValidationReport

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

DEFAULT_GENERATE_ROWS = 100_000


@app.callback(help=f"Train, evaluate, gate and register the {DEFAULT_MODEL_NAME} model ({USE_CASE.task}).")
def train_group() -> None:
    """Train, evaluate, gate and register the active use case's model."""


def _print_validation(report: ValidationReport) -> None:
    table = Table(title=f"training frame validation ({report.rows} rows): FAILED")
    for column in ("check", "value", "want"):
        table.add_column(column)
    for check in report.failed:
        table.add_row(check.name, str(check.value), check.limit)
    err.print(table)


@app.command("run")
@cli_errors
def run_command(
    rows: Annotated[
        int | None,
        typer.Option(
            min=100, help="Train on the most recent N labelled events (and generate N with --generate)."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Root of local state (default STEELTHREAD_DATA_DIR or var).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for the data generator and every model.")] = None,
    generate: Annotated[
        bool, typer.Option("--generate", help="Generate the synthetic data set first.")
    ] = False,
    labels_as_of: Annotated[
        str | None, typer.Option(help="Use only labels recorded by this ISO time (default: all labels).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Training config YAML (default: the use case's training.yaml).")
    ] = None,
    report_dir: Annotated[
        Path | None,
        typer.Option(
            help="Also write gate.json, metrics.json, model_card.md and review.md (the pull-request comment) "
            "here."
        ),
    ] = None,
    tune: Annotated[
        bool,
        typer.Option(
            "--tune",
            help="Search LightGBM's parameters first (training.yaml `tuning`: seeded, on the training slice; "
            "each trial an MLflow child run) and train with the best.",
        ),
    ] = False,
) -> None:
    """Train LightGBM and the baseline, gate, export ONNX, log to MLflow; publish a passing model."""
    from steelthread_training.pipeline import STAGES, generate_data, run_training

    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if config is not None:
        overrides["training_config"] = config
    settings = TrainingSettings(**overrides)  # type: ignore[arg-type]
    seed = settings.seed if seed is None else seed
    as_of = parse_time(labels_as_of) if labels_as_of else None
    training_config = load_config(settings.training_config)

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def start(name: str) -> None:
            tasks[name] = progress.add_task(f"{name}", total=1)

        def end(name: str, seconds: float) -> None:
            progress.update(tasks[name], completed=1, description=f"{name} [green]done[/] ({seconds:.1f} s)")

        timer = StageTimer(on_start=start, on_end=end)
        if generate:
            with timer.stage("generate"):
                out = generate_data(settings, rows or DEFAULT_GENERATE_ROWS, seed)
            progress.console.print(
                f"generated {rows or DEFAULT_GENERATE_ROWS:,} {USE_CASE.tables.events} rows in {out}"
            )
        try:
            outcome = run_training(
                settings,
                config=training_config,
                rows=rows,
                seed=seed,
                labels_as_of=as_of,
                timer=timer,
                on_note=progress.console.print,
                tune=tune,
            )
        except DataValidationError as exc:
            if isinstance(exc.report, ValidationReport):
                _print_validation(exc.report)
            raise

    candidate = outcome.candidate
    if candidate.tuning is not None:
        best = candidate.tuning.best
        console.print(
            f"tuning: {len(candidate.tuning.trials)} trials, best #{best.number} "
            f"({candidate.tuning.metric} {best.value:.4g} on the training slice's holdout): "
            + ", ".join(f"{k}={v:.4g}" for k, v in best.params.items())
        )
    m, b = candidate.evaluation.metrics.as_dict(), candidate.baseline_eval.metrics.as_dict()
    table = Table(title=f"test slice (newest data), {candidate.task}")
    for column in ("metric", "lightgbm", "baseline"):
        table.add_column(column)
    for name in candidate.kind.summary:
        table.add_row(name, cell(m.get(name)), cell(b.get(name)))
    console.print(table)
    verdict = candidate.verdict
    gate = Table(title=f"gate: {'PASSED' if verdict.passed else 'REFUSED'}")
    for column in ("check", "value", "rule", "ok"):
        gate.add_column(column)
    for c in verdict.checks:
        if not c.name.startswith("slice.") or not c.passed:
            gate.add_row(c.name, cell(c.value), c.rule(), "yes" if c.passed else "[red]no[/]")
    console.print(gate)
    stages = [s for s in ("generate", *STAGES) if s in outcome.seconds]
    total = sum(outcome.seconds[s] for s in stages)
    console.print(
        "stages: " + ", ".join(f"{s} {outcome.seconds[s]:.1f} s" for s in stages) + f" (total {total:.1f} s)"
    )
    reg = outcome.registered
    if report_dir is not None:
        from steelthread_training.review import write_report

        review = write_report(
            report_dir,
            gate=json.loads(verdict.to_json()),  # NaN stored as null, as in gate.json
            metrics={"lightgbm": m, "baseline": b},
            card=reg.model_card,
            model_name=settings.model_name,
            version=reg.version,
            run_id=reg.run_id,
        )
        console.print(f"report written to {report_dir} (pull-request comment: {review.name})")
    console.print(
        f"run {reg.run_id}: version {reg.version} of {settings.model_name}, "
        f"tree hash {candidate.tree_hash[:16]}, "
        f"parity max |diff| {candidate.parity.max_abs_diff:.2g}"
    )
    if outcome.challenger is None:
        failed = ", ".join(c.name for c in verdict.failed)
        raise GateRefusedError(
            f"version {reg.version} was registered but refused by its gate ({failed}); no alias set"
        )
    console.print(
        f"version {reg.version} is the challenger, published to {outcome.challenger.path}; "
        f"promote with `steelthread-promote promote --version {reg.version} --to staging --reason ...`"
    )


@app.command("backtest")
@cli_errors
def backtest_command(
    rows: Annotated[int, typer.Option(min=1_000, help="Events in the generated history.")] = 40_000,
    days: Annotated[int, typer.Option(min=60, help="Days of generated history.")] = 730,
    seed: Annotated[int | None, typer.Option(help="Seed for the generator and the model.")] = None,
    trained_at: Annotated[
        str | None,
        typer.Option(help="ISO time the model is trained at (default: --train-share into the history)."),
    ] = None,
    train_share: Annotated[
        float, typer.Option(min=0.05, max=0.95, help="Where in the history to train, when no --trained-at.")
    ] = 0.4,
    window_days: Annotated[int, typer.Option(min=1, help="Days per scored window.")] = 30,
    out: Annotated[Path | None, typer.Option(help="Write the backtest (JSON) here.")] = None,
    from_table: Annotated[
        Path | None,
        typer.Option(help="Read a stored backtest (JSON) instead of running one (with --write-rule)."),
    ] = None,
    write_rule: Annotated[
        Path | None,
        typer.Option(help="Rewrite SteelthreadModelStale's age in this Prometheus rule file."),
    ] = None,
    write_dashboard: Annotated[
        Path | None,
        typer.Option(help="Rewrite the model-age panel's threshold in this Grafana dashboard (JSON)."),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Root of local state (MLflow; default STEELTHREAD_DATA_DIR or var).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Training config YAML (default: the use case's training.yaml).")
    ] = None,
) -> None:
    """Train at T on the labels known by T, score every later window: the decay curve and the model-age
    alert threshold (the age at which the metric falls below the gate floor), logged to MLflow."""
    from steelthread_training.backtest import Backtest, alert_age, summary_rows
    from steelthread_training.staleness import write_dashboard as redraw
    from steelthread_training.staleness import write_rule as rewrite

    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if config is not None:
        overrides["training_config"] = config
    settings = TrainingSettings(**overrides)  # type: ignore[arg-type]
    if from_table is not None:
        try:
            result = Backtest.from_json(from_table.read_text(encoding="utf-8"))
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {from_table}: {exc.strerror or exc}") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise typer.BadParameter(f"{from_table} is not a stored backtest: {exc}") from None
    else:
        from steelthread_training.backtest_run import run_backtest

        result = run_backtest(
            settings,
            rows=rows,
            days=days,
            seed=settings.seed if seed is None else seed,
            trained_at=parse_time(trained_at) if trained_at else None,
            train_share=train_share,
            window_days=window_days,
            on_note=console.print,
        )
    table = Table(title=f"decay of {result.metric} with model age (floor {result.floor:g})")
    for column in ("age (days)", "window start", "rows", result.metric):
        table.add_column(column)
    for row in summary_rows(result):
        table.add_row(*row)
    console.print(table)
    age = alert_age(result)
    console.print(f"model-age alert threshold: {age.days} days ({age.basis})")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(result.to_json(), encoding="utf-8")
        console.print(f"backtest written to {out}")
    if write_rule is not None:
        rewrite(write_rule, result)
        console.print(f"{write_rule}: SteelthreadModelStale fires past {age.days} days")
    if write_dashboard is not None:
        redraw(write_dashboard, result)
        console.print(f"{write_dashboard}: the model-age panel turns red past {age.days} days")


def main() -> None:
    run(app)
