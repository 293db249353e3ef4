"""Append a training run's metrics table and gate verdict to the job summary.

The person who triggered a retrain should see, on the run page, what the model scored and which gate
check decided its fate, without opening MLflow. The training CLI writes `metrics.json` and `gate.json`
into the run's report folder; the training package reads them back and renders them
(`steelthread_training.review`, the one owner of the report's tables, shared with the pull-request
comment). This script is only the command line the workflow calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from steelthread_training.review import ReportError, gate_passed, read_report, render_summary


def render(report_dir: Path) -> tuple[str, bool]:
    """Markdown for the summary and the gate's verdict."""
    gate, metrics = read_report(report_dir)
    return render_summary(gate, metrics), gate_passed(gate)


def main(
    report_dir: Annotated[Path, typer.Option(help="Folder holding metrics.json and gate.json.")],
    summary: Annotated[Path, typer.Option(help="File to append the markdown to ($GITHUB_STEP_SUMMARY).")],
) -> None:
    """Append the run's metrics table and gate verdict to SUMMARY."""
    try:
        text, passed = render(report_dir)
    except ReportError as exc:
        with summary.open("a", encoding="utf-8") as out:
            out.write(f"## Training run\n\nNo training report: {exc}\n")
        typer.echo(f"train_summary: {exc}", err=True)
        raise typer.Exit(1) from None
    with summary.open("a", encoding="utf-8") as out:
        out.write(text)
    typer.echo(f"train_summary: gate {'passed' if passed else 'failed'}")


if __name__ == "__main__":
    typer.run(main)
