"""`steelthread-experiment`: A/B tests and canaries between two model versions, planned in advance and
decided from their traffic (steelthread_training.experiment, steelthread_training.rollout).

- `plan`: unit, allocation, primary metric, guardrails, MDE, alpha, power, sample size (statsmodels) and the
  longest duration, written once as JSON beside the promotion audit log;
- `check`: sample-ratio mismatch, guardrails and the always-valid test on the traffic so far;
- `step`: one canary step, advance / hold / abort / halt, as an exit code the promote workflow acts on
  (0 advance, 1 abort, 3 halt on sample-ratio mismatch, 4 hold), recorded unless it holds;
- `decide`: the final decision with its evidence, appended to the experiments log (`experiments.jsonl`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from steelthread_contracts import usecase
from steelthread_contracts.cells import cell
from steelthread_contracts.cli import cli_errors, console, parse_time
from steelthread_contracts.cli import run as run_cli
from steelthread_monitoring.cli_eval import FeedbackDir, LogDir, _reference
from steelthread_monitoring.settings import MonitorSettings

if TYPE_CHECKING:
    from steelthread_training.experiment import Plan
    from steelthread_training.rollout import Step

app = typer.Typer(
    help="A/B tests and canaries between model versions: plan, check, step, decide.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Name = Annotated[str, typer.Option(help="The experiment's name (its plan file's name).")]
End = Annotated[
    str | None, typer.Option(help="Read traffic up to this time (ISO 8601 or `now`); default now.")
]
Start = Annotated[
    str | None, typer.Option(help="Read traffic from this time (ISO 8601); default: when the plan was made.")
]


@app.command()
@cli_errors
def plan(
    name: Name,
    treatment: Annotated[str, typer.Option(help="Treatment version (the canary's new champion).")],
    mde: Annotated[float, typer.Option(help="Minimum detectable effect, absolute, in the metric's units.")],
    daily_units: Annotated[int, typer.Option(min=1, help="Units (entities) entering the experiment a day.")],
    control: Annotated[
        str | None, typer.Option(help="Control version; default: the published `stable` (a canary's).")
    ] = None,
    baseline: Annotated[
        float | None,
        typer.Option(
            help="mean: the metric's per-request standard deviation (default: the control's, on its own "
            "test set); proportion: the control rate."
        ),
    ] = None,
    max_days: Annotated[int, typer.Option(min=1, help="The longest the experiment may run.")] = 14,
    metric: Annotated[
        str | None, typer.Option(help="Primary metric; default the task's per-request loss.")
    ] = None,
    metric_kind: Annotated[Literal["mean", "proportion"], typer.Option(help="mean or proportion.")] = "mean",
    alpha: Annotated[float, typer.Option(min=1e-6, max=0.5)] = 0.05,
    power: Annotated[float, typer.Option(min=0.5, max=0.999)] = 0.8,
    treatment_share: Annotated[float, typer.Option(min=0.001, max=0.999, help="Canary fraction.")] = 0.5,
    guardrails: Annotated[
        list[str] | None,
        typer.Option("--guardrail", help="metric=max_increase, e.g. degraded_share=0.01 (repeat)."),
    ] = None,
) -> None:
    """Fix the experiment in advance and write its plan (never overwritten)."""
    from steelthread_contracts import package
    from steelthread_monitoring.errors import MissingReferenceError
    from steelthread_training.experiment import Guardrail, make_plan, write_plan
    from steelthread_training.rollout import DEGRADED, primary_metric, row_loss

    settings = MonitorSettings()
    if control is None:
        stable = package.read_pointer(settings.models_dir, package.STABLE)
        if stable is None:
            raise MissingReferenceError("no `stable` version is published: name the control with --control")
        control = stable.version
    if baseline is None:
        if metric_kind != "mean":
            raise typer.BadParameter("a proportion needs the control's rate", param_hint="--baseline")
        reference = _reference(settings, version=control)
        losses = row_loss(
            reference.task, reference.frame["score"].to_numpy(), reference.frame["label"].to_numpy()
        )
        baseline = float(losses.std(ddof=1))

    rails = []
    for text in guardrails if guardrails is not None else [f"{DEGRADED}=0.01"]:
        key, sep, value = text.partition("=")
        try:
            rails.append(Guardrail(key.strip(), float(value)))
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not metric=number", param_hint="--guardrail") from None
        if not sep or not key.strip():
            raise typer.BadParameter(f"{text!r} is not metric=number", param_hint="--guardrail")
    made = make_plan(
        name=name,
        control=control,
        treatment=treatment,
        primary_metric=metric or primary_metric(usecase.active().task),
        metric_kind=metric_kind,
        baseline=baseline,
        mde=mde,
        alpha=alpha,
        power=power,
        treatment_share=treatment_share,
        daily_units=daily_units,
        max_days=max_days,
        guardrails=tuple(rails),
    )
    path = write_plan(settings.audit_dir, made)
    console.print(
        f"experiment {name}: v{treatment} against v{control}, {made.primary_metric} ({metric_kind}), "
        f"MDE {mde:g}, alpha {alpha:g}, power {power:g}: {made.control_units} control + "
        f"{made.treatment_units} treatment units, about {made.days} day(s) (at most {max_days}); plan {path}"
    )


def _step(
    name: str,
    span: tuple[str | None, str | None],
    final: bool,
    log_dir: Path | None,
    feedback_dir: Path | None,
) -> tuple[MonitorSettings, Plan, Step]:
    from steelthread_monitoring.cohort import LogSource, arms
    from steelthread_training.experiment import read_plan
    from steelthread_training.rollout import step

    settings = MonitorSettings()
    made = read_plan(settings.audit_dir, name)
    start = parse_time(span[0], "--start") if span[0] else datetime.fromisoformat(made.created_at)
    stop = parse_time(span[1], "--end") if span[1] else datetime.now(UTC)
    references = {v: _reference(settings, version=v) for v in (made.control, made.treatment)}
    traffic = arms(LogSource.of(settings, log_dir, feedback_dir), start, stop, references, now=stop)
    task = references[made.treatment].task
    return settings, made, step(made, task, traffic, final=final)


def _show(result: Step) -> None:
    c = result.check
    srm = c.sample_ratio
    console.print(
        f"units: {srm.control} control, {srm.treatment} treatment (sample-ratio p = {srm.p_value:.3g}); "
        f"labelled: {result.labelled['control']} control, {result.labelled['treatment']} treatment",
        markup=False,
    )
    console.print(
        f"loss: control {cell(c.control_mean)}, treatment {cell(c.treatment_mean)}, difference "
        f"{cell(c.difference)}; always-valid p = {cell(c.always_valid_p)}"
        + (f", fixed-horizon p = {cell(c.fixed_horizon_p)}" if c.fixed_horizon_p is not None else ""),
        markup=False,
    )
    for metric, rail in c.guardrails.items():
        console.print(
            f"guardrail {metric}: control {cell(rail['control'])}, treatment {cell(rail['treatment'])} "
            f"(may rise by {rail['max_increase']:g}): {'ok' if rail['passed'] else 'BREACHED'}",
            markup=False,
        )
    console.print(f"{result.action}: {result.reason}", markup=False)


def _record(settings: MonitorSettings, made: Plan, result: Step, kind: str) -> Path:
    from steelthread_training.experiment import append_decision

    return append_decision(
        settings.audit_dir,
        {
            "experiment": made.name,
            "kind": kind,
            "control": made.control,
            "treatment": made.treatment,
            "action": result.action,
            "reason": result.reason,
            "evidence": result.check.document(),
            "labelled": result.labelled,
        },
    )


@app.command()
@cli_errors
def check(
    name: Name,
    start: Start = None,
    end: End = None,
    log_dir: LogDir = None,
    feedback_dir: FeedbackDir = None,
) -> None:
    """The traffic so far against the plan. Exit 0, or 3 when a sample-ratio mismatch halts it."""
    _, _, result = _step(name, (start, end), False, log_dir, feedback_dir)
    _show(result)
    if result.action == "halt":
        raise typer.Exit(result.exit_code)


@app.command()
@cli_errors
def step(
    name: Name,
    final: Annotated[
        bool, typer.Option("--final", help="The observation is over: no evidence of harm advances.")
    ] = False,
    start: Start = None,
    end: End = None,
    log_dir: LogDir = None,
    feedback_dir: FeedbackDir = None,
) -> None:
    """One canary step: exit 0 advance, 1 abort, 3 halt (sample-ratio mismatch), 4 hold."""
    settings, made, result = _step(name, (start, end), final, log_dir, feedback_dir)
    _show(result)
    if result.action != "hold":
        console.print(f"recorded in {_record(settings, made, result, 'step')}")
    raise typer.Exit(result.exit_code)


@app.command()
@cli_errors
def decide(
    name: Name,
    start: Start = None,
    end: End = None,
    log_dir: LogDir = None,
    feedback_dir: FeedbackDir = None,
) -> None:
    """The experiment's final decision with its evidence, appended to experiments.jsonl."""
    settings, made, result = _step(name, (start, end), True, log_dir, feedback_dir)
    _show(result)
    console.print(f"recorded in {_record(settings, made, result, 'decision')}")
    raise typer.Exit(result.exit_code)


@app.command()
@cli_errors
def history(name: Annotated[str | None, typer.Option(help="Only this experiment.")] = None) -> None:
    """The recorded steps and decisions (why is this version live: the statistical answer)."""
    from steelthread_training.experiment import read_decisions

    for record in read_decisions(MonitorSettings().audit_dir, name):
        summary = {k: record[k] for k in ("at", "experiment", "kind", "action", "reason") if k in record}
        console.print(json.dumps(summary), markup=False)


def main() -> None:
    run_cli(app)


__all__ = ["app", "main"]
