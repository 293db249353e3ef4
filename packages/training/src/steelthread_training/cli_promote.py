"""`steelthread-promote`: move a version challenger -> staging -> champion, roll the champion back, show
whether registry, deployment pointers and audit log agree, finish a half-done move, and settle a finished
canary (the champion becomes `stable` too)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated, Literal

import typer

from steelthread_contracts.cli import cli_errors, console, run
from steelthread_contracts.package import STABLE
from steelthread_training.errors import InconsistentStateError, RegistryError
from steelthread_training.settings import TrainingSettings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def _settings(data_dir: Path | None) -> TrainingSettings:
    return TrainingSettings(**({"data_dir": data_dir} if data_dir else {}))  # type: ignore[arg-type]


def _deadline(settings: TrainingSettings, command: str) -> AbstractContextManager[None]:
    """The whole command's deadline; past it, one line and exit 5 (a registry that stopped answering)."""
    from steelthread_training.deadline import command_deadline

    return command_deadline(
        settings.command_timeout_s, f"steelthread-promote {command}", RegistryError.exit_code
    )


def _note(text: str) -> None:
    console.print(text)


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
    with _deadline(settings, "promote"):
        move = do_promote(Registry(settings), settings, version.strip(), to, reason, on_note=_note)
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
    with _deadline(settings, "rollback"):
        move = do_rollback(Registry(settings), settings, reason, on_note=_note)
    console.print(
        f"champion rolled back from version {move.replaced_version} to version {move.version}; "
        f"published {move.path}"
    )


@app.command()
@cli_errors
def status(data_dir: DataDir = None) -> None:
    """Which version holds each alias in the registry, the deployment location and the audit log, and
    whether a move is half done. Exit 0 when they agree, 9 when not (5: the registry did not answer)."""
    from steelthread_training.promotion import pending_move, promotion_state
    from steelthread_training.tracking import Registry

    settings = _settings(data_dir)
    pending = pending_move(settings)  # local: answered even when the registry is down
    if pending is not None:
        console.print(f"half done: {pending.describe()}")
    with _deadline(settings, "status"):
        state = promotion_state(Registry(settings), settings)
    for alias in state.aliases:
        console.print(
            f"{alias.alias:>10}: registry {alias.registry or '-'}, published {alias.pointer or '-'}, "
            f"audit log {alias.audit or '-'}"
        )
    console.print(f"{STABLE:>10}: published {_stable_line(settings)}")
    problems = state.problems()
    if problems:
        raise InconsistentStateError(
            f"{'; '.join(problems)}; run `steelthread-promote repair` (runbooks/promote.md)"
        )


def _stable_line(settings: TrainingSettings) -> str:
    """The `stable` pointer (a deployment pointer only, never a registry alias, so no registry or audit
    column): the champion a canary's other customers get."""
    from steelthread_training.package import read_pointer

    models_dir = settings.models_dir
    stable, champion = read_pointer(models_dir, STABLE), read_pointer(models_dir, "champion")
    if stable is None:
        return "- (no champion was replaced yet: outside a canary the fallback answers)"
    if stable == champion:
        return f"{stable} (settled: the champion)"
    return f"{stable} (the champion before the last promotion; `steelthread-promote settle` once live)"


@app.command()
@cli_errors
def repair(data_dir: DataDir = None) -> None:
    """Finish a half-done move (idempotent), then check that registry, pointers and audit log agree."""
    from steelthread_training.promotion import repair as do_repair
    from steelthread_training.tracking import Registry

    settings = _settings(data_dir)
    with _deadline(settings, "repair"):
        finished = do_repair(Registry(settings), settings, on_note=_note)
    if finished is None:
        console.print("nothing to repair: registry, deployment pointers and audit log agree")


@app.command()
@cli_errors
def settle(data_dir: DataDir = None) -> None:
    """The canary went live: point `stable` at the champion, so shadow or canary mode serves it."""
    from steelthread_training.package import settle_stable

    version = settle_stable(_settings(data_dir).models_dir)
    console.print(f"stable is now version {version}, the champion")


def main() -> None:
    run(app)
