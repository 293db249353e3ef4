"""What the prediction log, explanations and logs may keep of personal data: the use case's policy, applied.

A use case tags its personal fields (`UseCase.personal`): the entity key when it identifies a person, and
request fields or model features that are personal (income, age). Each tag says how records keep it:

- `hash`: the entity key only. The log stores a keyed pseudonym (HMAC-SHA256 with the deployment's secret,
  `STEELTHREAD_PSEUDONYM_KEY`, cut to a positive 53-bit integer so the record's `entity_key` keeps its
  type). The same key and secret give the same pseudonym in serving and batch, so records of one entity
  still group together; without the secret nobody can turn a pseudonym back into the key, nor test a
  guessed key against it. Feedback joins predictions by request id, which is not personal.
- `drop`: the value is never written: not into the prediction log (request or features), not into an
  explanation's `features`, not into a batch run's prediction log. Monitoring then has no drift on it (the
  trade-off a use case makes per field, docs/monitoring.md).
- `keep`: tagged, and kept on purpose (the tag documents that it is personal, the policy that it is needed).

Derived features (a ratio of a dropped income) are not personal by themselves here; a use case that finds
one identifying tags it too. One function applies the policy per record kind, so serving and batch cannot
disagree.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar, cast

from steelthread_contracts.usecase import UseCase

PSEUDONYM_BITS: Final = 53
"""Pseudonyms are integers in [1, 2**53): JSON, pandas and PostgreSQL keep them exactly."""
KEY_FILE: Final = "pseudonym.key"
"""Where the local profile keeps the secret it generated (under `data_dir`), when none is configured."""

V = TypeVar("V")


class PrivacyError(ValueError):
    """No usable secret for a policy that hashes; the message says what to set, in one line."""


def pseudonym(key: int, secret: bytes) -> int:
    """The keyed pseudonym of an entity key: HMAC-SHA256(secret, key), its first 53 bits, never 0."""
    digest = hmac.new(secret, str(int(key)).encode(), hashlib.sha256).digest()
    return (int.from_bytes(digest[:8], "big") >> (64 - PSEUDONYM_BITS)) or 1


@dataclass(frozen=True)
class LogPolicy:
    """The use case's policy, ready to apply to one record at a time."""

    hash_key: bool
    dropped: frozenset[str]
    secret: bytes = b""

    @classmethod
    def of(cls, use_case: UseCase, secret: bytes | None = None) -> LogPolicy:
        """The policy of `use_case`; `secret` is required when it hashes the entity key."""
        hashed = any(p.handling == "hash" for p in use_case.personal)
        if hashed and not secret:
            raise PrivacyError(
                f"use case {use_case.name!r} pseudonymises {use_case.join_key}: set STEELTHREAD_PSEUDONYM_KEY"
            )
        dropped = frozenset(p.name for p in use_case.personal if p.handling == "drop")
        return cls(hash_key=hashed, dropped=dropped, secret=secret or b"")

    def key(self, key: int) -> int:
        """The entity key as records store it."""
        return pseudonym(key, self.secret) if self.hash_key else key

    def keep(self, values: dict[str, V]) -> dict[str, V]:
        """`values` (features by name) without the dropped ones (the same dict when nothing is dropped)."""
        if not self.dropped:
            return values
        return {name: value for name, value in values.items() if name not in self.dropped}

    def request(self, values: dict[str, V], join_key: str, stored_key: int) -> dict[str, V]:
        """A logged request: the dropped fields left out, the entity key (`join_key`) as records store it,
        `stored_key` (the caller's `key(...)` of it, which the record's `entity_key` holds too: one HMAC per
        record, not two)."""
        kept = self.keep(values)
        key = kept.get(join_key)
        if self.hash_key and isinstance(key, int) and not isinstance(key, bool):
            kept = {**kept, join_key: cast(V, stored_key)}  # an int key stays an int
        return kept


NO_POLICY: Final = LogPolicy(hash_key=False, dropped=frozenset())
"""Keeps everything: a use case that tags nothing."""


def secret_of(configured: str | None, data_dir: Path, profile: str) -> bytes:
    """The deployment's pseudonym secret: the configured one, or in the local profile a random one
    generated once under `data_dir` (so serving and batch on one machine agree without setup). The
    production profile has no fallback: one secret, from the environment, for every replica and job."""
    if configured:
        return configured.encode()
    if profile != "local":
        raise PrivacyError("the production profile needs STEELTHREAD_PSEUDONYM_KEY (no local key file)")
    path = data_dir / KEY_FILE
    if not path.is_file():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process wrote it first: use theirs
            return path.read_bytes().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_bytes().strip()
