"""Decide whether a monitoring run should open (or update) an alert issue, and write its body.

Prometheus alert rules are the production alarm; this is the same signal for a repository that reads
its monitoring from scheduled runs: the job's Prometheus textfile is checked against the conditions in
`.github/monitor-alerts.json` (the thresholds of infra/prometheus/rules/steelthread-model.yml), each
naming its runbook. A run that did not complete is an alert too: the same file lists the exit codes of
`steelthread-monitor run` after which the gauges are complete enough to judge (ok, too few labels yet).
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from prometheus_client.parser import text_string_to_metric_families

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Condition:
    name: str
    metric: str
    op: str
    threshold: float
    runbook: str
    labels: tuple[tuple[str, str], ...] = ()
    baseline: str | None = None
    """When set, the value judged is baseline minus metric (a drop), per matching label set."""


@dataclass(frozen=True)
class Firing:
    condition: Condition
    value: float
    labels: dict[str, str]


def load_conditions(doc: dict[str, Any]) -> tuple[list[Condition], set[int], dict[int, str]]:
    """Conditions, the exit codes after which they can be judged, and what each exit code means."""
    conditions = []
    for i, raw in enumerate(doc.get("conditions", [])):
        try:
            if raw["op"] not in OPS:
                raise ValueError(f"op must be one of {', '.join(OPS)}")
            conditions.append(
                Condition(
                    str(raw["name"]),
                    str(raw["metric"]),
                    str(raw["op"]),
                    float(raw["threshold"]),
                    str(raw["runbook"]),
                    tuple(sorted(raw.get("labels", {}).items())),
                    str(raw["baseline"]) if raw.get("baseline") else None,
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"conditions[{i}]: {exc!s} (needs name, metric, op, threshold, runbook)"
            ) from None
    completed = {int(code) for code in doc.get("completed_exit_codes", [0])}
    meanings = {int(code): str(why) for code, why in doc.get("exit_codes", {}).items()}
    return conditions, completed, meanings


def samples(textfile: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample in a Prometheus text exposition, by sample name."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(textfile):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    return out


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def evaluate(
    conditions: list[Condition], by_name: dict[str, list[tuple[dict[str, str], float]]]
) -> tuple[list[Firing], list[str]]:
    """Conditions that hold, and the metrics no sample was found for (a wiring problem, not health)."""
    firing: list[Firing] = []
    missing: list[str] = []
    for cond in conditions:
        matched = [
            (labels, v)
            for labels, v in by_name.get(cond.metric, [])
            if all(labels.get(k) == val for k, val in cond.labels)
        ]
        if cond.baseline is not None:
            base = {_key(labels): v for labels, v in by_name.get(cond.baseline, [])}
            matched = [(labels, base[_key(labels)] - v) for labels, v in matched if _key(labels) in base]
        if not matched:
            missing.append(cond.metric)
        firing.extend(
            Firing(cond, v, labels)
            for labels, v in matched
            if math.isnan(v) or OPS[cond.op](v, cond.threshold)
        )
    return firing, missing


def issue_body(firing: list[Firing], job_failure: str | None, run_url: str) -> str:
    lines = ["The scheduled monitoring run found a condition that needs a person.", ""]
    if job_failure:
        lines += [f"- **monitoring job failed**: {job_failure} (runbook: `runbooks/`)"]
    for f in firing:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(f.labels.items()))
        where = f" {{{labels}}}" if labels else ""
        lines.append(
            f"- **{f.condition.name}**: `{f.condition.metric}{where}` = {f.value:.4g} "
            f"({f.condition.op} {f.condition.threshold:g}); runbook: [{f.condition.runbook}]"
            f"(../blob/HEAD/{f.condition.runbook})"
        )
    lines += ["", f"Run and report artifact: {run_url}"]
    return "\n".join(lines) + "\n"


def main(
    textfile: Annotated[Path, typer.Option(help="Prometheus textfile written by steelthread-monitor.")],
    conditions: Annotated[Path, typer.Option(help="JSON file with the alert conditions.")],
    exit_code: Annotated[int, typer.Option(help="Exit code of steelthread-monitor run.")],
    run_url: Annotated[str, typer.Option(help="Link to this run.")],
    issue_body_path: Annotated[Path, typer.Option("--issue-body", help="Where to write the issue body.")],
    summary: Annotated[Path | None, typer.Option(help="Append a markdown summary here.")] = None,
    github_output: Annotated[Path | None, typer.Option(help="$GITHUB_OUTPUT, gets alert=true|false.")] = None,
) -> None:
    """Evaluate the alert conditions for one monitoring run."""
    try:
        conds, completed, meanings = load_conditions(json.loads(conditions.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        typer.echo(f"monitor_alerts: {conditions}: {exc}", err=True)
        raise typer.Exit(2) from None
    job_failure: str | None = None
    firing: list[Firing] = []
    missing: list[str] = []
    meaning = meanings.get(exit_code, "unknown exit code")
    if exit_code not in completed:
        job_failure = f"steelthread-monitor exited with code {exit_code}: {meaning}"
        note = job_failure
    else:
        try:
            firing, missing = evaluate(conds, samples(textfile.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            job_failure = f"cannot read {textfile}: {exc}"
        note = job_failure or f"{len(firing)} condition(s) firing (exit code {exit_code}: {meaning})"
    alert = bool(firing) or job_failure is not None
    issue_body_path.write_text(issue_body(firing, job_failure, run_url), encoding="utf-8")
    for metric in sorted(set(missing)):
        typer.echo(f"::warning title=alert condition not evaluated::{metric} is not in {textfile}")
    if summary is not None:
        with summary.open("a", encoding="utf-8") as out:
            out.write(
                f"## Monitoring\n\n{note}\n\n" + (issue_body(firing, job_failure, run_url) if alert else "")
            )
    if github_output is not None:
        with github_output.open("a", encoding="utf-8") as out:
            out.write(f"alert={'true' if alert else 'false'}\n")
    typer.echo(f"monitor_alerts: alert={'true' if alert else 'false'}: {note}")


if __name__ == "__main__":
    typer.run(main)
