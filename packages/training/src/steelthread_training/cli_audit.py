"""`steelthread-audit`: which model version was champion at a given time, and why."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from steelthread_contracts.cli import cli_errors, console, parse_time, run
from steelthread_training.audit import champion_at, read_events
from steelthread_training.errors import AuditError
from steelthread_training.settings import TrainingSettings

app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
@cli_errors
def audit(
    at: Annotated[str, typer.Option(help="ISO 8601 time (UTC if no zone) or 'now'.")] = "now",
    history: Annotated[bool, typer.Option("--history", help="Print every recorded move.")] = False,
    data_dir: Annotated[
        Path | None, typer.Option(help="Root of local state (default STEELTHREAD_DATA_DIR or var).")
    ] = None,
) -> None:
    """Answer "which version was champion at TIME" from the append-only audit log."""
    settings = TrainingSettings(**({"data_dir": data_dir} if data_dir else {}))  # type: ignore[arg-type]
    audit_dir = settings.audit_dir
    if history:
        table = Table(title=f"audit log {audit_dir}")
        for column in ("at", "actor", "action", "version", "from", "to", "replaced", "reason"):
            table.add_column(column)
        for e in read_events(audit_dir):
            table.add_row(
                e.at.isoformat(), e.actor, e.action, e.version, e.from_alias or "-", e.to_alias,
                e.replaced_version or "-", e.reason,
            )  # fmt: skip
        console.print(table)
    when = parse_time(at)
    event = champion_at(audit_dir, settings.model_name, when)
    if event is None:
        raise AuditError(f"no version of {settings.model_name} was champion at {when.isoformat()}")
    console.print(
        f"version {event.version} of {event.model} was champion at {when.isoformat()} "
        f"(since {event.at.isoformat()}, {event.action} by {event.actor}: {event.reason})"
    )


def main() -> None:
    run(app)
