"""Moving versions between aliases (challenger -> staging -> champion) through gates, with an audit trail.

A move is allowed only when the version's stored gate verdict passed and the version holds the alias
before the target in the order; to `champion`, the evaluation store must also say it is not worse than the
current champion on its own test set and the newest labelled cohort (`steelthread_training.evidence`).
It is carried out as a recoverable sequence (ADR 0013): the package is
published (inert until a pointer names it), the intent is written to the promotion journal, then the
MLflow aliases move, the audit record is appended, the deployment pointers are swapped and the journal is
closed. Serving only ever follows a pointer the registry and the audit log already agree with, and a move
that stopped half-way (database down, process killed) is finished by the next move or by
`steelthread-promote repair`: every step is idempotent, so finishing is running them all again.

Before the `champion` pointer moves, the deployment's `stable` pointer keeps the champion it replaces (a
rollback makes its target stable first), so a canary's other customers keep the answers they had.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from steelthread_contracts.package import Task, version_dir
from steelthread_training.audit import (
    Action,
    alias_holders,
    append,
    champion_stack,
    exclusive,
    now,
    read_events,
)
from steelthread_training.config import TrainingConfig, load_config
from steelthread_training.errors import GateRefusedError, InconsistentStateError, PromotionError
from steelthread_training.export import onnx_predict, onnx_session
from steelthread_training.frame import TASK
from steelthread_training.gate import ChampionComparison
from steelthread_training.journal import AliasChange, Intent, close_intent, open_intent, read_intent
from steelthread_training.package import (
    ALIASES,
    MODEL_FILE,
    PACKAGE_FILE,
    STABLE,
    keep_stable,
    publish_version,
    read_pointer,
    remove_pointer,
    verify_run_package,
    write_pointer,
)
from steelthread_training.settings import TrainingSettings
from steelthread_training.tasks import task_kind
from steelthread_training.tracking import PACKAGE_ARTIFACT, Registry

PREVIOUS: Final[dict[str, str]] = {"staging": "challenger", "champion": "staging"}
METRIC_NAMES: Final[dict[str, str]] = {"roc_auc": "ROC AUC", "mae": "MAE", "macro_f1": "macro F1"}

Note = Callable[[str], None]


@dataclass(frozen=True)
class Move:
    version: str
    from_alias: str | None
    to_alias: str
    replaced_version: str | None
    path: Path


def require_gate_passed(registry: Registry, version: str) -> None:
    verdict = registry.gate_verdict(version)
    if not verdict["passed"]:
        failed = [c.get("name", "?") for c in verdict["checks"] if not c.get("passed")]
        raise GateRefusedError(f"version {version} did not pass its gate (failed: {', '.join(failed[:5])})")


def require_not_worse(
    registry: Registry,
    settings: TrainingSettings,
    version: str,
    champion: str | None,
    on_note: Note | None = None,
) -> None:
    """The evaluation store's word (steelthread_training.evidence): not worse than the champion on the
    candidate's own test set and on the newest labelled production cohort, within the gate's tolerance."""
    from steelthread_training.evidence import champion_checks

    checks = champion_checks(registry, version, champion, load_config(settings.training_config), on_note)
    failed = [c for c in checks if not c.passed]
    if failed:
        detail = "; ".join(f"{c.name} = {c.value} ({c.rule()}; {c.note})" for c in failed)
        raise GateRefusedError(f"version {version} is worse than champion {champion}: {detail}")


def publish(registry: Registry, settings: TrainingSettings, version: str) -> Path:
    """Download the version's package from its run, verify it and publish it under versions/<version>/
    (idempotent). No pointer names it yet, so serving does not see it."""
    run_id = str(registry.version(version).run_id)
    with tempfile.TemporaryDirectory(prefix="steelthread-publish-") as tmp:
        source = registry.download(run_id, PACKAGE_ARTIFACT, Path(tmp))
        return publish_version(source, settings.models_dir, version)


def _reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not text:
        raise PromotionError("a reason is required for every move (it goes into the audit log)")
    return text


def _intent(
    settings: TrainingSettings,
    action: Action,
    move: Move,
    reason: str,
    run_id: str,
    changes: list[AliasChange],
) -> Intent:
    return Intent(
        opened_at=now(),
        action=action,
        model=settings.model_name,
        version=move.version,
        from_alias=move.from_alias,
        to_alias=move.to_alias,
        replaced_version=move.replaced_version,
        actor=settings.resolved_actor(),
        reason=reason,
        run_id=run_id,
        registry=tuple(changes),
        pointers=tuple(changes),
    )


def _finish(registry: Registry, settings: TrainingSettings, intent: Intent) -> Move:
    """Every step of the move, in order; each is idempotent, so this both carries a move out and
    finishes one that stopped anywhere. The journal is closed only after the last step."""
    audit_dir, models_dir = settings.audit_dir, settings.models_dir
    for change in intent.registry:
        if change.version is None:
            registry.delete_alias(change.alias)
        else:
            registry.set_alias(change.alias, change.version)
    if not intent.recorded_in(read_events(audit_dir)):
        append(audit_dir, intent.event(now()))
    for change in intent.pointers:
        if change.version is None:
            remove_pointer(models_dir, change.alias)
            continue
        if not (version_dir(models_dir, change.version) / PACKAGE_FILE).is_file():
            publish(registry, settings, change.version)  # removed since the intent was written
        if change.alias == "champion" and intent.action == "rollback":
            write_pointer(models_dir, STABLE, change.version)  # first: a canary's rest never gets the bad one
        elif change.alias == "champion":
            keep_stable(models_dir, change.version)  # idempotent: a repeat leaves stable as it is
        write_pointer(models_dir, change.alias, change.version)
    close_intent(audit_dir, intent.model)
    return _as_move(intent, settings)


def _carry_out(registry: Registry, settings: TrainingSettings, intent: Intent) -> Move:
    open_intent(settings.audit_dir, intent)
    return _finish(registry, settings, intent)


def _finish_pending(registry: Registry, settings: TrainingSettings, on_note: Note | None) -> Intent | None:
    """Finish the move a previous command left half done, if any (under the caller's lock)."""
    intent = read_intent(settings.audit_dir, settings.model_name)
    if intent is None:
        return None
    _finish(registry, settings, intent)
    if on_note is not None:
        on_note(f"finished the half-done {intent.describe()}")
    return intent


def _same(intent: Intent, action: Action, version: str | None, to: str) -> bool:
    """Whether the move just finished is the one asked for again (a retry after a failure): then it is
    the answer, and is not carried out a second time (a second rollback would go back further)."""
    if intent.action != action or intent.to_alias != to:
        return False
    return version is None or intent.version == version


def _as_move(intent: Intent, settings: TrainingSettings) -> Move:
    path = version_dir(settings.models_dir, intent.version)
    return Move(intent.version, intent.from_alias, intent.to_alias, intent.replaced_version, path)


def register_challenger(
    registry: Registry, settings: TrainingSettings, version: str, reason: str, *, on_note: Note | None = None
) -> Move:
    """Publish a freshly registered, gate-passing version as the challenger (serving may shadow it)."""
    with exclusive(settings.audit_dir):
        finished = _finish_pending(registry, settings, on_note)
        if finished is not None and _same(finished, "register", version, "challenger"):
            return _as_move(finished, settings)
        return _register_challenger(registry, settings, version, reason)


def _register_challenger(registry: Registry, settings: TrainingSettings, version: str, reason: str) -> Move:
    text = _reason(reason)
    require_gate_passed(registry, version)
    previous = registry.alias_version("challenger")
    run_id = str(registry.version(version).run_id)
    path = publish(registry, settings, version)
    move = Move(version, None, "challenger", previous if previous != version else None, path)
    changes = [AliasChange(alias="challenger", version=version)]
    return _carry_out(registry, settings, _intent(settings, "register", move, text, run_id, changes))


def promote(
    registry: Registry,
    settings: TrainingSettings,
    version: str,
    to: str,
    reason: str,
    *,
    on_note: Note | None = None,
) -> Move:
    """Move `version` one step along challenger -> staging -> champion (one move at a time)."""
    with exclusive(settings.audit_dir):
        finished = _finish_pending(registry, settings, on_note)
        if finished is not None and _same(finished, "promote", version, to):
            return _as_move(finished, settings)
        return _promote(registry, settings, version, to, reason, on_note)


def _promote(
    registry: Registry,
    settings: TrainingSettings,
    version: str,
    to: str,
    reason: str,
    on_note: Note | None = None,
) -> Move:
    text = _reason(reason)
    if to not in PREVIOUS:
        raise PromotionError(f"cannot promote to {to!r}; expected staging or champion")
    run_id = str(registry.version(version).run_id)  # a clear error for an unknown version
    source_alias = PREVIOUS[to]
    holder = registry.alias_version(source_alias)
    if holder != version:
        where = f"version {holder}" if holder else "no version"
        raise PromotionError(
            f"version {version} is not the {source_alias} ({where} is); "
            "the order is challenger -> staging -> champion"
        )
    require_gate_passed(registry, version)
    replaced = registry.alias_version(to)
    if to == "champion":
        require_not_worse(registry, settings, version, replaced, on_note)
    path = publish(registry, settings, version)
    move = Move(version, source_alias, to, replaced, path)
    changes = [AliasChange(alias=to, version=version), AliasChange(alias=source_alias, version=None)]
    return _carry_out(registry, settings, _intent(settings, "promote", move, text, run_id, changes))


def rollback(
    registry: Registry, settings: TrainingSettings, reason: str, *, on_note: Note | None = None
) -> Move:
    """Make the champion before the current one champion again (the audit log knows which it was)."""
    with exclusive(settings.audit_dir):
        finished = _finish_pending(registry, settings, on_note)
        if finished is not None and _same(finished, "rollback", None, "champion"):
            return _as_move(finished, settings)
        return _rollback(registry, settings, reason)


def _rollback(registry: Registry, settings: TrainingSettings, reason: str) -> Move:
    text = _reason(reason)
    current = registry.alias_version("champion")
    if current is None:
        raise PromotionError("there is no champion to roll back")
    stack = champion_stack(read_events(settings.audit_dir), settings.model_name)
    if len(stack) < 2 or stack[-1].version != current:
        raise PromotionError(
            f"no previous champion to roll back to (champion is version {current}; the audit log has "
            f"{max(len(stack) - 1, 0)} earlier champion(s))"
        )
    target = stack[-2].version
    run_id = str(registry.version(target).run_id)
    path = publish(registry, settings, target)
    move = Move(target, "champion", "champion", current, path)
    changes = [AliasChange(alias="champion", version=target)]
    return _carry_out(registry, settings, _intent(settings, "rollback", move, text, run_id, changes))


# --- status and repair ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AliasState:
    """Who holds one alias in each of the three places that must agree."""

    alias: str
    registry: str | None
    pointer: str | None
    audit: str | None

    def agrees(self) -> bool:
        return self.registry == self.pointer == self.audit

    def describe(self) -> str:
        return (
            f"{self.alias}: registry {self.registry or 'none'}, deployment pointer {self.pointer or 'none'}, "
            f"audit log {self.audit or 'none'}"
        )


@dataclass(frozen=True)
class PromotionState:
    aliases: tuple[AliasState, ...]
    pending: Intent | None

    def problems(self) -> list[str]:
        found = [f"a move is half done: {self.pending.describe()}"] if self.pending else []
        return found + [f"they disagree on {a.describe()}" for a in self.aliases if not a.agrees()]


def pending_move(settings: TrainingSettings) -> Intent | None:
    """The half-done move recorded in the journal (no registry needed to answer)."""
    return read_intent(settings.audit_dir, settings.model_name)


def promotion_state(registry: Registry, settings: TrainingSettings) -> PromotionState:
    """Registry aliases, deployment pointers and the audit log's replay, side by side, and the journal."""
    models_dir = settings.models_dir
    recorded = alias_holders(read_events(settings.audit_dir), settings.model_name)
    held = aliases_of(registry)
    aliases = tuple(
        AliasState(alias, held[alias], read_pointer(models_dir, alias), recorded[alias]) for alias in ALIASES
    )
    return PromotionState(aliases, pending_move(settings))


def repair(registry: Registry, settings: TrainingSettings, *, on_note: Note | None = None) -> Intent | None:
    """Finish the half-done move, then check that registry, pointers and audit log agree.

    Idempotent: with nothing half done it only checks. A disagreement no journal explains (an alias moved
    by hand in the MLflow UI, a pointer edited) is not guessed at: it is an `InconsistentStateError` that
    names it (runbooks/promote.md says how to settle it).
    """
    with exclusive(settings.audit_dir):
        finished = _finish_pending(registry, settings, on_note)
        problems = promotion_state(registry, settings).problems()
    if problems:
        done = "the half-done move was finished, but " if finished else "no half-done move explains this: "
        raise InconsistentStateError(
            f"{done}{'; '.join(problems)}; settle it by hand (runbooks/promote.md, 'Half done or "
            "inconsistent')"
        )
    return finished


def compare_with_champion(
    registry: Registry,
    test: pd.DataFrame,
    y: np.ndarray,
    *,
    task: Task = TASK,
    config: TrainingConfig | None = None,
) -> ChampionComparison:
    """Score the current champion's own ONNX package on this run's test rows, on the task's primary metric
    (binary ROC AUC, regression MAE, multiclass macro F1)."""
    kind = task_kind(task)
    version = registry.alias_version("champion")
    if version is None:
        return ChampionComparison(
            None, None, "no champion yet: first model, nothing to compare", kind.primary
        )
    run_id = str(registry.version(version).run_id)
    with tempfile.TemporaryDirectory(prefix="steelthread-champion-") as tmp:
        folder = registry.download(run_id, PACKAGE_ARTIFACT, Path(tmp))
        manifest = verify_run_package(folder)
        if manifest.task is not task:
            return ChampionComparison(
                version, None, f"champion v{version} is a {manifest.task} model, not {task}", kind.primary
            )
        names = list(manifest.feature_names)
        absent = [n for n in names if n not in test.columns]
        if absent:
            return ChampionComparison(
                version,
                None,
                f"champion v{version} needs features absent from this frame: {', '.join(absent[:5])}",
                kind.primary,
            )
        session = onnx_session((folder / MODEL_FILE).read_bytes())
        predicted = onnx_predict(session, test[names].to_numpy(dtype=np.float64), task)
    value = kind.primary_value(y, predicted, config or load_config())
    return ChampionComparison(
        version,
        value,
        f"champion v{version} scored {value:.4f} {METRIC_NAMES.get(kind.primary, kind.primary)} "
        "on the same test rows",
        kind.primary,
    )


def aliases_of(registry: Registry) -> dict[str, str | None]:
    return {alias: registry.alias_version(alias) for alias in ALIASES}
