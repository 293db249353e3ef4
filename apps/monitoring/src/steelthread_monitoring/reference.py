"""Find and load the monitoring reference of the serving model version.

The reference comes from the model package (`reference.parquet` next to `package.json`), so drift is always
measured against the data the serving model was trained and evaluated on, not a hand-picked file.

The task (binary, regression, multiclass) decides how performance is measured and which labels are valid. The
package's manifest states it; a bare parquet (`--reference PATH`) has no manifest, so the active use case's
task (`STEELTHREAD_USECASE`) stands in. The job needs no use case installed when it reads a package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from steelthread_contracts import package, usecase
from steelthread_contracts.package import Task
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
    task: Task = Task.BINARY
    """From the package manifest; for a bare parquet, the active use case's."""

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
    """Follow `<models_dir>/<alias>.json` to the package's `reference.parquet` (the package contract's
    resolve: a known alias, a pointer inside models_dir, the version the pointer names)."""
    try:
        if package.read_pointer(models_dir, alias) is None:
            raise MissingReferenceError(
                f"no alias pointer {models_dir / f'{alias}.json'}: promote a model to '{alias}' "
                "or pass --reference PATH"
            )
        folder = package.resolve(models_dir, alias=alias)
    except package.PackageError as exc:
        raise InvalidInputError(str(exc)) from None
    return folder / package.REFERENCE_FILE


def load_reference(path: Path) -> Reference:
    """Read the reference parquet and, when it sits in a package, the package.json beside it (validated,
    and the parquet checked against its recorded sha256)."""
    if not path.is_file():
        raise MissingReferenceError(f"reference dataset {path} does not exist")
    manifest = _read_manifest(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInputError(f"reference {path} is not a readable parquet file: {exc}") from exc
    frame = table.to_pandas()
    if SCORE_COLUMN not in frame.columns:
        raise InvalidInputError(f"reference {path} has no '{SCORE_COLUMN}' column")
    if len(frame) == 0:
        raise InvalidInputError(f"reference {path} has no rows")
    if manifest is None:
        return Reference(frame=frame, path=path, task=_task_without_manifest(path))
    return Reference(
        frame=frame,
        path=path,
        model_name=manifest.name,
        model_version=manifest.version,
        feature_names=list(manifest.feature_names),
        threshold=manifest.threshold,
        created_at=manifest.created_at,
        task=manifest.task,
    )


def _task_without_manifest(path: Path) -> Task:
    """A bare reference parquet does not say what the model predicts: the active use case does."""
    try:
        return usecase.active().task
    except usecase.UseCaseError as exc:
        raise InvalidInputError(
            f"reference {path} has no {package.PACKAGE_FILE} beside it to state the task, and the use case "
            f"cannot say either ({exc}); pass a package's reference or set {usecase.USECASE_ENV}"
        ) from None


def _read_manifest(path: Path) -> package.PackageManifest | None:
    """The manifest of the package `path` belongs to, or None for a bare parquet (`--reference PATH`)."""
    folder = path.parent
    if not (folder / package.PACKAGE_FILE).is_file():
        return None
    try:
        manifest = package.read_manifest(folder)
        if path.name == package.REFERENCE_FILE:
            package.verify_files(folder, manifest, [package.REFERENCE_FILE])
    except package.PackageError as exc:
        raise InvalidInputError(str(exc)) from None
    return manifest
