"""The promotion journal: the intent of one move, written before its first step, removed after its last.

A move changes three stores that share no transaction: the registry's aliases (MLflow, in a database), the
audit log and the deployment pointers serving reads. Any of them can fail half-way (the database stops,
the process is killed), so the move is recorded first as an intent holding everything needed to finish
it: the aliases to set or clear in the registry, the audit record, the pointers to write or remove. Every
step is idempotent, so finishing a move is running all its steps again; the next promote, rollback,
registration or `steelthread-promote repair` does that before anything else. The file lives beside the
audit log (`<audit_dir>/pending-<model>.json`) and is written atomically; at most one exists per model,
because moves hold the audit directory's lock.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, ValidationError

from steelthread_contracts.package import atomic_write, sync_folder
from steelthread_training.audit import Action, AuditEvent
from steelthread_training.errors import InconsistentStateError

JOURNAL_PREFIX: Final = "pending-"


class AliasChange(BaseModel):
    """Point `alias` at `version`, or clear it (version None)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alias: str
    version: str | None


class Intent(BaseModel):
    """One move, decided and checked (gates, order) but maybe not yet carried out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    opened_at: datetime
    action: Action
    model: str
    version: str
    from_alias: str | None
    to_alias: str
    replaced_version: str | None
    actor: str
    reason: str
    run_id: str | None
    registry: tuple[AliasChange, ...]
    """Registry alias changes in order: the target is set before the source is cleared."""
    pointers: tuple[AliasChange, ...]
    """Deployment pointer changes in order, made after the registry and the audit log agree."""

    def event(self, at: datetime) -> AuditEvent:
        """The audit record of this move, stamped when it is appended (after the registry moved)."""
        return AuditEvent(
            at=at,
            actor=self.actor,
            action=self.action,
            model=self.model,
            version=self.version,
            from_alias=self.from_alias,
            to_alias=self.to_alias,
            replaced_version=self.replaced_version,
            reason=self.reason,
            run_id=self.run_id,
        )

    def recorded_in(self, events: list[AuditEvent]) -> bool:
        """Whether this move's record is already in the log: the same move appended after the intent
        was opened (only this move can have appended it, since moves hold the lock)."""
        return any(e.at >= self.opened_at and e == self.event(e.at) for e in events)

    def describe(self) -> str:
        source = f"{self.from_alias} -> " if self.from_alias and self.from_alias != self.to_alias else ""
        return (
            f"{self.action} of version {self.version} ({source}{self.to_alias}) by {self.actor} "
            f"at {self.opened_at.isoformat()}: {self.reason}"
        )


def journal_path(audit_dir: Path, model: str) -> Path:
    return audit_dir / f"{JOURNAL_PREFIX}{model}.json"


def open_intent(audit_dir: Path, intent: Intent) -> None:
    """Record the intent durably before the move's first step changes anything."""
    atomic_write(journal_path(audit_dir, intent.model), intent.model_dump_json(indent=2) + "\n")


def read_intent(audit_dir: Path, model: str) -> Intent | None:
    """The half-done move of `model`, or None when its last move finished."""
    path = journal_path(audit_dir, model)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InconsistentStateError(f"promotion journal {path} is unreadable: {exc}") from None
    try:
        return Intent.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        raise InconsistentStateError(
            f"promotion journal {path} is corrupt ({where}: {first['msg']}); compare "
            "`steelthread-promote status` with the audit log and remove the file by hand"
        ) from None


def close_intent(audit_dir: Path, model: str) -> None:
    """The move's last step is done: remove the intent (durably, so a crash cannot bring it back)."""
    path = journal_path(audit_dir, model)
    path.unlink(missing_ok=True)
    sync_folder(path.parent)
