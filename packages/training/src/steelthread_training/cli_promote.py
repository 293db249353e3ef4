"""`steelthread-promote`: move a version challenger -> staging -> champion, roll the champion back, or settle
a finished canary (the champion becomes `stable` too)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from steelthread_features.cli_common import cli_errors, console, run
from steelthread_training.settings import TrainingSettings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def _settings(data_dir: Path | None) -> TrainingSettings:
    return TrainingSettings(**({"data_dir": data_dir} if data_dir else {}))  # type: ignore[arg-type]


DataDir = Annotated[
    Path | None, typer.Option(help="Root of local state (default STEELTHREAD_DATA_DIR or var).")
]


@app.command()
@cli_errors
def promote(
    version: Annotated[str, typer.Option(help="Registered model version, e.g. 3.")],
    to: Annotated[Literal["staging", "champion"], typer.Option(help="Target alias.")],
    reason: Annotated[str, typer.Option(help="Why (goes into the audit log).")],
    data_dir: DataDir = None,
) -> None:
    """Promote VERSION one step (its gate must have passed); publish its package for serving."""
    from steelthread_training.promotion import promote as do_promote
    from steelthread_training.tracking import Registry

    settings = _settings(data_dir)
    move = do_promote(Registry(settings), settings, version.strip(), to, reason)
    replaced = f", replacing version {move.replaced_version}" if move.replaced_version else ""
    console.print(
        f"version {move.version}: {move.from_alias} -> {move.to_alias}{replaced}; published {move.path}"
    )


@app.command()
@cli_errors
def rollback(
    reason: Annotated[str, typer.Option(help="Why (goes into the audit log).")],
    data_dir: DataDir = None,
) -> None:
    """Make the previous champion champion again."""
    from steelthread_training.promotion import rollback as do_rollback
    from steelthread_training.tracking import Registry

    settings = _settings(data_dir)
    move = do_rollback(Registry(settings), settings, reason)
    console.print(
        f"champion rolled back from version {move.replaced_version} to version {move.version}; "
        f"published {move.path}"
    )


@app.command()
@cli_errors
def status(data_dir: DataDir = None) -> None:
    """Which version holds each alias, in the registry and in the deployment location."""
    from steelthread_training.package import read_pointer
    from steelthread_training.promotion import aliases_of
    from steelthread_training.tracking import Registry

    settings = _settings(data_dir)
    registry = aliases_of(Registry(settings))
    for alias, version in registry.items():
        deployed = read_pointer(settings.resolved_models_dir(), alias)
        console.print(f"{alias:>10}: registry {version or '-'}, published {deployed or '-'}")


@app.command()
@cli_errors
def settle(data_dir: DataDir = None) -> None:
    """The canary went live: point `stable` at the champion, so shadow or canary mode serves it."""
    from steelthread_training.package import settle_stable

    version = settle_stable(_settings(data_dir).resolved_models_dir())
    console.print(f"stable is now version {version}, the champion")


def main() -> None:
    run(app)
