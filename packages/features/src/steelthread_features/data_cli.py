"""`steelthread-data`: write the active use case's synthetic data set."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from steelthread_contracts.cli import cli_errors, parse_time, run
from steelthread_features.definitions import VIEW_TTLS
from steelthread_features.generator import DEFAULT_DAYS, DEFAULT_END, SCENARIOS, generate, write
from steelthread_features.settings import FeatureSettings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(highlight=False, soft_wrap=True)

_DEFAULT_END_TEXT = DEFAULT_END.isoformat().replace("+00:00", "Z")
_SHORTEST_TTL_DAYS = min((ttl.days for ttl in VIEW_TTLS.values()), default=0)


@app.callback()
def data_group() -> None:
    """Synthetic data for the active use case (STEELTHREAD_USECASE)."""


@app.command("generate")
@cli_errors
def generate_command(
    rows: Annotated[int, typer.Option(min=1, help="Number of events (decision requests).")] = 100_000,
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder (default: STEELTHREAD_DATA_DIR/data, or STEELTHREAD_TABLES_DIR)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 0,
    scenario: Annotated[
        str | None,
        typer.Option(help=f"Drift injected into the end of the window: {', '.join(SCENARIOS)}."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            help=f"End of the time window, ISO-8601 (default {_DEFAULT_END_TEXT}, fixed so the same "
            "seed gives the same bytes). Use today's date for a live demo: online values expire "
            f"{_SHORTEST_TTL_DAYS} days after their snapshot."
        ),
    ] = None,
    days: Annotated[int, typer.Option(min=30, max=3650, help="Length of the window.")] = DEFAULT_DAYS,
) -> None:
    """Generate the use case's tables (entities, features, events, later labels) as parquet."""
    if scenario is not None and scenario not in SCENARIOS:
        known = ", ".join(SCENARIOS)
        raise typer.BadParameter(
            f"unknown scenario {scenario!r}; expected one of {known}", param_hint="'--scenario'"
        )
    target = out if out is not None else FeatureSettings().tables_dir
    end_at = parse_time(end, "--end") if end is not None else DEFAULT_END
    started = time.perf_counter()
    data = generate(rows, seed=seed, scenario=scenario, end=end_at, days=days)
    generated = time.perf_counter() - started
    paths = write(data, target)
    total = time.perf_counter() - started
    for name, path in paths.items():
        size = path.stat().st_size / 1e6
        console.print(f"{name:>15}: {path} ({size:.1f} MB)")
    console.print(
        f"{rows:,} events, scenario={scenario or 'none'}: generated in "
        f"{generated:.1f} s, written in {total - generated:.1f} s (total {total:.1f} s)"
    )


def main() -> None:
    run(app)
