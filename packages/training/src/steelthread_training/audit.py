"""The append-only audit log of alias moves: who moved which version from where to where, when and why.

One JSON object per line in `<audit_dir>/promotions.jsonl`, opened in append mode and fsynced, never
rewritten. Which version was champion at time T is a replay of the lines up to T, so the question has
one answer however the registry looks today.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

from steelthread_contracts.package import ALIASES
from steelthread_training.errors import AuditError

AUDIT_FILE: Final = "promotions.jsonl"
Action = Literal["register", "promote", "rollback"]


@dataclass(frozen=True)
class AuditEvent:
    at: datetime
    actor: str
    action: Action
    model: str
    version: str
    from_alias: str | None
    to_alias: str
    replaced_version: str | None
    reason: str
    run_id: str | None = None

    def to_json(self) -> str:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return json.dumps(data, sort_keys=True)

    @staticmethod
    def from_json(line: str, where: str) -> AuditEvent:
        try:
            data = json.loads(line)
            data["at"] = datetime.fromisoformat(data["at"])
            event = AuditEvent(**data)
        except (ValueError, TypeError, KeyError) as exc:
            raise AuditError(f"audit log {where} is corrupt: {exc}") from None
        if event.at.tzinfo is None:
            raise AuditError(f"audit log {where} has a time without a timezone")
        return event


def audit_path(audit_dir: Path) -> Path:
    return audit_dir / AUDIT_FILE


def append(audit_dir: Path, event: AuditEvent) -> None:
    audit_dir.mkdir(parents=True, exist_ok=True)
    line = (event.to_json() + "\n").encode()
    fd = os.open(audit_path(audit_dir), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_events(audit_dir: Path) -> list[AuditEvent]:
    path = audit_path(audit_dir)
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [AuditEvent.from_json(line, f"{path}:{i}") for i, line in enumerate(lines, 1) if line.strip()]


def champion_stack(events: list[AuditEvent], model: str, until: datetime | None = None) -> list[AuditEvent]:
    """The champion history as a stack: a promotion pushes, a rollback pops back to the previous one."""
    stack: list[AuditEvent] = []
    for event in events:
        if event.model != model or event.to_alias != "champion":
            continue
        if until is not None and event.at > until:
            break
        if event.action == "rollback":
            if stack:
                stack.pop()
            if stack and stack[-1].version == event.version:
                stack[-1] = event  # same champion as before, now held because of the rollback
            else:
                stack.append(event)
        else:
            stack.append(event)
    return stack


def alias_holders(events: list[AuditEvent], model: str) -> dict[str, str | None]:
    """Which version holds each alias when every recorded move is replayed: a registration sets the
    challenger, a promotion sets its target and clears its source, a rollback sets the champion. The
    registry and the deployment pointers agree with this when no move is half done."""
    holders: dict[str, str | None] = dict.fromkeys(ALIASES)
    for event in events:
        if event.model != model:
            continue
        if event.from_alias is not None and event.from_alias != event.to_alias:
            holders[event.from_alias] = None
        holders[event.to_alias] = event.version
    return holders


def champion_at(audit_dir: Path, model: str, at: datetime) -> AuditEvent | None:
    """The event that made the champion of `model` current at time `at` (None: there was none)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    stack = champion_stack(read_events(audit_dir), model, until=at)
    return stack[-1] if stack else None


@contextmanager
def exclusive(audit_dir: Path) -> Iterator[None]:
    """Serialise moves: two operators promoting at once must not interleave registry, pointer and log."""
    audit_dir.mkdir(parents=True, exist_ok=True)
    with (audit_dir / ".lock").open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def now() -> datetime:
    return datetime.now(UTC)
