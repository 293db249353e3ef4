"""Moving versions between aliases (challenger -> staging -> champion) through gates, with an audit trail.

A move is allowed only when the version's stored gate verdict passed and the version holds the alias
before the target in the order; every move publishes the model package to the deployment location,
swaps the alias pointer, moves the MLflow alias and appends one line to the audit log, in that order,
so a failure half-way never leaves serving pointing at something the registry does not know. Before the
`champion` pointer moves, the deployment's `stable` pointer keeps the champion it replaces (a rollback makes
its target stable too), so a canary's other customers keep the answers they had.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from steelthread_contracts.package import Task
from steelthread_training.audit import AuditEvent, append, champion_stack, exclusive, now, read_events
from steelthread_training.config import TrainingConfig, load_config
from steelthread_training.errors import GateRefusedError, PromotionError
from steelthread_training.export import onnx_predict, onnx_session
from steelthread_training.frame import TASK
from steelthread_training.gate import ChampionComparison
from steelthread_training.package import (
    ALIASES,
    MODEL_FILE,
    STABLE,
    check_alias,
    keep_stable,
    publish_version,
    remove_pointer,
    verify_run_package,
    write_pointer,
)
from steelthread_training.settings import TrainingSettings
from steelthread_training.tasks import task_kind
from steelthread_training.tracking import PACKAGE_ARTIFACT, Registry

PREVIOUS: Final[dict[str, str]] = {"staging": "challenger", "champion": "staging"}
METRIC_NAMES: Final[dict[str, str]] = {"roc_auc": "ROC AUC", "mae": "MAE", "macro_f1": "macro F1"}


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


def publish(registry: Registry, settings: TrainingSettings, version: str, alias: str) -> Path:
    """Download the version's package from its run, verify it, publish it and point `alias` at it."""
    check_alias(alias)
    run_id = str(registry.version(version).run_id)
    models_dir = settings.resolved_models_dir()
    with tempfile.TemporaryDirectory(prefix="steelthread-publish-") as tmp:
        source = registry.download(run_id, PACKAGE_ARTIFACT, Path(tmp))
        target = publish_version(source, models_dir, version)
    write_pointer(models_dir, alias, version)
    return target


def _event(
    settings: TrainingSettings, action: str, move: Move, reason: str, run_id: str | None
) -> AuditEvent:
    return AuditEvent(
        at=now(),
        actor=settings.resolved_actor(),
        action=action,  # type: ignore[arg-type]
        model=settings.model_name,
        version=move.version,
        from_alias=move.from_alias,
        to_alias=move.to_alias,
        replaced_version=move.replaced_version,
        reason=reason,
        run_id=run_id,
    )


def _reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not text:
        raise PromotionError("a reason is required for every move (it goes into the audit log)")
    return text


def register_challenger(registry: Registry, settings: TrainingSettings, version: str, reason: str) -> Move:
    with exclusive(settings.resolved_audit_dir()):
        return _register_challenger(registry, settings, version, reason)


def _register_challenger(registry: Registry, settings: TrainingSettings, version: str, reason: str) -> Move:
    """Publish a freshly registered, gate-passing version as the challenger (serving may shadow it)."""
    require_gate_passed(registry, version)
    previous = registry.alias_version("challenger")
    registry.set_alias("challenger", version)
    path = publish(registry, settings, version, "challenger")
    move = Move(version, None, "challenger", previous if previous != version else None, path)
    run_id = str(registry.version(version).run_id)
    append(settings.resolved_audit_dir(), _event(settings, "register", move, _reason(reason), run_id))
    return move


def promote(registry: Registry, settings: TrainingSettings, version: str, to: str, reason: str) -> Move:
    """Move `version` one step along challenger -> staging -> champion (one move at a time)."""
    with exclusive(settings.resolved_audit_dir()):
        return _promote(registry, settings, version, to, reason)


def _promote(registry: Registry, settings: TrainingSettings, version: str, to: str, reason: str) -> Move:
    text = _reason(reason)
    if to not in PREVIOUS:
        raise PromotionError(f"cannot promote to {to!r}; expected staging or champion")
    registry.version(version)  # a clear error for an unknown version
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
        keep_stable(settings.resolved_models_dir(), version)
    path = publish(registry, settings, version, to)
    registry.set_alias(to, version)
    registry.delete_alias(source_alias)
    remove_pointer(settings.resolved_models_dir(), source_alias)
    move = Move(version, source_alias, to, replaced, path)
    run_id = str(registry.version(version).run_id)
    append(settings.resolved_audit_dir(), _event(settings, "promote", move, text, run_id))
    return move


def rollback(registry: Registry, settings: TrainingSettings, reason: str) -> Move:
    """Make the champion before the current one champion again (the audit log knows which it was)."""
    with exclusive(settings.resolved_audit_dir()):
        return _rollback(registry, settings, reason)


def _rollback(registry: Registry, settings: TrainingSettings, reason: str) -> Move:
    text = _reason(reason)
    current = registry.alias_version("champion")
    if current is None:
        raise PromotionError("there is no champion to roll back")
    stack = champion_stack(read_events(settings.resolved_audit_dir()), settings.model_name)
    if len(stack) < 2 or stack[-1].version != current:
        raise PromotionError(
            f"no previous champion to roll back to (champion is version {current}; the audit log has "
            f"{max(len(stack) - 1, 0)} earlier champion(s))"
        )
    target = stack[-2].version
    path = publish(registry, settings, target, "champion")
    write_pointer(settings.resolved_models_dir(), STABLE, target)
    registry.set_alias("champion", target)
    move = Move(target, "champion", "champion", current, path)
    run_id = str(registry.version(target).run_id)
    append(settings.resolved_audit_dir(), _event(settings, "rollback", move, text, run_id))
    return move


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
