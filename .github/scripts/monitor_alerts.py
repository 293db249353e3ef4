"""Decide whether a scheduled monitoring run should open (or update) an alert issue, and write its body.

Prometheus alert rules are the production alarm; this gives the same alarm to a repository that reads its
monitoring from scheduled runs. The rules are not copied: the job's Prometheus textfile is judged against
infra/prometheus/rules/steelthread-model.yml by Prometheus's own engine (steelthread_monitoring.alerts runs
`promtool test rules`), and each alert that fires is reported with its labels, summary and runbook exactly
as Alertmanager would receive it. A run that did not complete is an alert too: the gauges are judged only
after the exit codes steelthread_monitoring.errors.GAUGES_COMPLETE names.

Exit codes: 0 the run was judged (alert=true|false written); 2 bad option; 3 the rules could not be
evaluated (unreadable, empty or foreign textfile, broken rule file, promtool missing or failing): alert=true
is still written with the reason, so the issue is opened, and the step fails so the run shows red.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from steelthread_monitoring.alerts import MODEL_RULES, REPO, AlertEvaluationError, FiredAlert, evaluate
from steelthread_monitoring.errors import GAUGES_COMPLETE, ExitCode

NOT_EVALUATED = 3
JOB_RUNBOOK = "runbooks/monitor-not-running.md"
EXIT_CODES_DOC = "docs/monitoring.md#exit-codes"


def link(target: str) -> str:
    """A markdown link that works from the issue: absolute URLs as they are, repository paths via blob."""
    href = target if target.startswith(("http://", "https://")) else f"../blob/HEAD/{target}"
    return f"[{target}]({href})"


def job_failure(exit_code: int) -> str | None:
    """Why a monitoring run that ended with `exit_code` cannot be judged by its gauges, or None."""
    if exit_code in GAUGES_COMPLETE:
        return None
    try:
        name = ExitCode(exit_code).name
    except ValueError:
        name = "unknown exit code"
    return (
        f"steelthread-monitor exited with code {exit_code} ({name}); what each code means: "
        f"{link(EXIT_CODES_DOC)}; runbook: {link(JOB_RUNBOOK)}"
    )


def alert_line(alert: FiredAlert) -> str:
    labels = ", ".join(
        f"{k}={v}" for k, v in sorted(alert.labels.items()) if k not in {"alertname", "severity", "team"}
    )
    severity = alert.labels.get("severity", "-")
    summary = alert.annotations.get("summary", alert.name)
    description = alert.annotations.get("description", "")
    return (
        f"- **{alert.name}** ({severity}; {labels}): {summary}. {description} Runbook: {link(alert.runbook)}"
    )


def issue_body(
    fired: list[FiredAlert], problems: list[tuple[str, str]], rules: Path | None, run_url: str
) -> str:
    """Problems are (title, why) pairs: the run itself, or the evaluation, needing a person; `rules` is the
    rule file that judged the gauges, None when they were not judged."""
    lines = ["The scheduled monitoring run found a condition that needs a person.", ""]
    lines += [f"- **{title}**: {why}" for title, why in problems]
    lines += [alert_line(alert) for alert in fired]
    lines.append("")
    if rules is not None:
        shown = rules.resolve().relative_to(REPO) if rules.resolve().is_relative_to(REPO) else rules
        lines.append(f"Alerts are the rules of `{shown}`, evaluated by promtool on the run's gauges.")
    lines.append(f"Run and report artifact: {run_url}")
    return "\n".join(lines) + "\n"


def main(
    textfile: Annotated[Path, typer.Option(help="Prometheus textfile written by steelthread-monitor run.")],
    exit_code: Annotated[int, typer.Option(help="Exit code of steelthread-monitor run.")],
    run_url: Annotated[str, typer.Option(help="Link to this run.")],
    issue_body_path: Annotated[Path, typer.Option("--issue-body", help="Where to write the issue body.")],
    rules: Annotated[Path, typer.Option(help="Prometheus rule file whose alerts are judged.")] = MODEL_RULES,
    summary: Annotated[Path | None, typer.Option(help="Append a markdown summary here.")] = None,
    github_output: Annotated[Path | None, typer.Option(help="$GITHUB_OUTPUT, gets alert=true|false.")] = None,
) -> None:
    """Judge one monitoring run with the Prometheus alert rules."""
    fired: list[FiredAlert] = []
    problems: list[tuple[str, str]] = []
    error: str | None = None
    failure = job_failure(exit_code)
    if failure is not None:
        problems.append(("monitoring job did not complete", failure))
        note = f"not judged: steelthread-monitor exited with code {exit_code}"
    else:
        try:
            fired = evaluate(textfile, rules)
        except AlertEvaluationError as exc:
            error = str(exc)
            problems.append(("alert rules not evaluated", error))
        note = error or f"{len(fired)} alert(s) firing (monitoring exit code {exit_code})"
    alert = bool(fired or problems)
    body = issue_body(fired, problems, None if failure else rules, run_url)
    issue_body_path.write_text(body, encoding="utf-8")
    if summary is not None:
        with summary.open("a", encoding="utf-8") as out:
            out.write(f"## Monitoring\n\n{note}\n\n" + (body if alert else ""))
    if github_output is not None:
        with github_output.open("a", encoding="utf-8") as out:
            out.write(f"alert={'true' if alert else 'false'}\n")
    if error is not None:
        typer.echo(f"monitor_alerts: error: {error}", err=True)
        raise typer.Exit(NOT_EVALUATED)
    names = ", ".join(sorted({a.name for a in fired}))
    note += f" ({names})" if names else ""
    typer.echo(f"monitor_alerts: alert={'true' if alert else 'false'}: {note}")


if __name__ == "__main__":
    typer.run(main)
