"""Find and load the monitoring reference of the serving model version.

The reference comes from the model package (`reference.parquet` next to `package.json`), so drift is always
measured against the data the serving model was trained and evaluated on, not a hand-picked file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from steelthread_monitoring.errors import InvalidInputError, MissingReferenceError

SCORE_COLUMN = "score"
LABEL_COLUMN = "label"
RESERVED_COLUMNS = frozenset({SCORE_COLUMN, LABEL_COLUMN})


@dataclass(frozen=True)
class Reference:
    """The reference frame plus what the model package says about the columns."""

    frame: pd.DataFrame
    path: Path
    model_name: str | None = None
    model_version: str | None = None
    feature_names: list[str] = field(default_factory=list)
    threshold: float | None = None
    created_at: datetime | None = None

    @property
    def monitored_columns(self) -> list[str]:
        """Features first (package order), then slice columns; score and label are checked apart."""
        present = [c for c in self.frame.columns if c not in RESERVED_COLUMNS]
        ordered = [c for c in self.feature_names if c in present]
        return ordered + [c for c in present if c not in ordered]

    @property
    def numerical_columns(self) -> list[str]:
        return [
            c
            for c in self.monitored_columns
            if pd.api.types.is_numeric_dtype(self.frame[c]) and not pd.api.types.is_bool_dtype(self.frame[c])
        ]

    @property
    def categorical_columns(self) -> list[str]:
        numerical = set(self.numerical_columns)
        return [c for c in self.monitored_columns if c not in numerical]


def resolve_reference_path(models_dir: Path, alias: str) -> Path:
    """Follow `<models_dir>/<alias>.json` to the package's `reference.parquet`."""
    pointer = models_dir / f"{alias}.json"
    if not pointer.is_file():
        raise MissingReferenceError(
            f"no alias pointer {pointer}: promote a model to '{alias}' or pass --reference PATH"
        )
    try:
        target = json.loads(pointer.read_text())["path"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"alias pointer {pointer} is not valid JSON with a 'path'") from exc
    return models_dir / str(target) / "reference.parquet"


def load_reference(path: Path) -> Reference:
    """Read the reference parquet and, when present, the package.json beside it."""
    if not path.is_file():
        raise MissingReferenceError(f"reference dataset {path} does not exist")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInputError(f"reference {path} is not a readable parquet file: {exc}") from exc
    frame = table.to_pandas()
    if SCORE_COLUMN not in frame.columns:
        raise InvalidInputError(f"reference {path} has no '{SCORE_COLUMN}' column")
    if len(frame) == 0:
        raise InvalidInputError(f"reference {path} has no rows")
    package = _read_package(path.parent / "package.json")
    created = package.get("created_at")
    try:
        created_at = datetime.fromisoformat(str(created)) if created else None
    except ValueError as exc:
        raise InvalidInputError(
            f"{path.parent / 'package.json'}: created_at {created!r} is not ISO-8601"
        ) from exc
    names = package.get("feature_names", [])
    threshold = package.get("threshold")
    return Reference(
        frame=frame,
        path=path,
        model_name=_str_or_none(package.get("name")),
        model_version=_str_or_none(package.get("version")),
        feature_names=[str(n) for n in names] if isinstance(names, list) else [],
        threshold=float(threshold) if isinstance(threshold, int | float) else None,
        created_at=created_at,
    )


def _read_package(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise InvalidInputError(f"{path} is not valid JSON") from exc
    if not isinstance(data, dict):
        raise InvalidInputError(f"{path} must hold a JSON object")
    return data


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
