"""Key scopes and the scoped-key file (`STEELTHREAD_API_KEYS_FILE`): names and shapes only.

Kept apart from auth.py so the settings can read the file at start-up (a bad file is one error line and
exit 2) without importing the HTTP layer.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class KeyScope(StrEnum):
    """What a key may do."""

    PREDICT = "predict"
    """Ask for predictions (single and batch) and read `/v1/model`."""
    EXPLAIN = "explain"
    """Ask for the feature values behind a prediction (`explain: true`): customer data."""
    FEEDBACK = "feedback"
    """Report observed outcomes."""
    ADMIN = "admin"
    """Operate the service (reserved for operator endpoints)."""


PLAIN_KEY_SCOPES = frozenset({KeyScope.PREDICT, KeyScope.EXPLAIN, KeyScope.FEEDBACK})
"""The scopes of a key from `STEELTHREAD_API_KEYS`: what every key could do before keys had scopes."""


class ScopedKey(BaseModel):
    """One entry of the scoped-key file: the key's sha256 (never the key), its owner and its scopes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    owner: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Hex sha256 of the key's bytes.")
    scopes: frozenset[KeyScope] = Field(min_length=1)


SCOPED_KEYS = TypeAdapter(list[ScopedKey])


def read_scoped_keys(path: Path) -> list[ScopedKey]:
    """The file's entries; `ValueError` (one line, naming the file) for an unreadable or invalid file."""
    try:
        return SCOPED_KEYS.validate_python(json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        first = str(exc).splitlines()
        raise ValueError(f"{path}: not a scoped-key file ({' '.join(first[:3])})") from None
