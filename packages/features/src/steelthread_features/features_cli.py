"""`steelthread-features`: register the Feast repo and load the online store."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from steelthread_contracts.cli import cli_errors, parse_time, run
from steelthread_features.definitions import FEATURE_NAMES, FEATURE_SERVICE
from steelthread_features.settings import FeatureSettings
from steelthread_features.store_config import store_yaml

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(highlight=False, soft_wrap=True)


@app.command("config")
@cli_errors
def config_command() -> None:
    """Print the feature_store.yaml generated for the current profile."""
    console.print(store_yaml(FeatureSettings()), markup=False, end="")


@app.command("names")
def names_command() -> None:
    """Print the feature service's features in model order (no Feast import)."""
    console.print(f"# {FEATURE_SERVICE}", markup=False)
    for name in FEATURE_NAMES:
        console.print(name, markup=False)


@app.command("apply")
@cli_errors
def apply_command() -> None:
    """Register entities, feature views and services in the profile's registry."""
    from steelthread_features import store

    settings = FeatureSettings()
    started = time.perf_counter()
    with console.status(f"applying the feature repo (profile {settings.profile})"):
        names = store.apply(settings)
    console.print(
        f"applied {len(names)} objects to profile {settings.profile!r} in "
        f"{time.perf_counter() - started:.1f} s: {', '.join(names)}"
    )


@app.command("materialize")
@cli_errors
def materialize_command(
    end: Annotated[str | None, typer.Option(help="ISO-8601 end (default: now, UTC).")] = None,
    start: Annotated[
        str | None, typer.Option(help="ISO-8601 start (default: end minus each view's TTL).")
    ] = None,
) -> None:
    """Load the latest feature values up to END into the online store."""
    from steelthread_features import store

    settings = FeatureSettings()
    end_at = parse_time(end, "--end") if end is not None else datetime.now(UTC)
    start_at = parse_time(start, "--start") if start is not None else None
    if start_at is not None and start_at >= end_at:
        raise typer.BadParameter("must be before --end", param_hint="--start")
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("materializing feature views", total=None)

        def done(view: str) -> None:
            progress.console.print(f"materialized {view}")
            progress.advance(task)

        names = store.materialize(end_at, start_at, settings=settings, on_view=done)
        progress.update(task, total=len(names), completed=len(names))
    console.print(
        f"online store ({settings.profile}) loaded up to {end_at.isoformat()} in "
        f"{time.perf_counter() - started:.1f} s"
    )


def main() -> None:
    run(app)
