"""Finding and describing a published model package.

Batch reads the same deployment location as serving (`<models_dir>/<alias>.json` pointing at
`versions/<v>/`), so "which model scored this row" has one answer across both paths. The description is a
small frozen dataclass so it can be pickled to Spark executors; the ONNX file itself travels separately.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from steelthread_batch.errors import BatchInputError

MODEL_FILE = "model.onnx"
PACKAGE_FILE = "package.json"
_ALIAS = re.compile(r"^[A-Za-z0-9_-]+$")


class _PackageJson(BaseModel):
    """The fields of package.json that batch relies on; the rest (metrics, run_id...) pass through."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    version: str | int
    feature_names: list[str] = Field(min_length=1)
    threshold: float = Field(ge=0.0, le=1.0)
    review_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    feature_service: str | None = None
    run_id: str | None = None


class _AliasJson(BaseModel):
    model_config = ConfigDict(extra="allow")

    version: str | int
    path: str | None = None


@dataclass(frozen=True)
class ModelPackage:
    """What scoring needs to know about one published model version."""

    name: str
    version: str
    feature_names: tuple[str, ...]
    threshold: float
    directory: str
    model_sha256: str
    feature_service: str | None = None
    review_threshold: float | None = None
    """Scores at or above it (and below `threshold`) go to review; None: no review band."""
    shipped_as: str | None = None
    """Name under which the package folder was shipped with SparkContext.addFile (executors)."""

    @property
    def model_path(self) -> Path:
        return Path(self.directory) / MODEL_FILE

    def shipped(self, name: str) -> ModelPackage:
        return replace(self, shipped_as=name)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise BatchInputError(f"{what} not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise BatchInputError(f"{what} {path} is unreadable: {exc}") from None


def load_package(directory: Path) -> ModelPackage:
    """Read `<directory>/package.json` and check that its model file exists."""
    raw = _read_json(directory / PACKAGE_FILE, "model package file")
    try:
        meta = _PackageJson.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BatchInputError(f"{directory / PACKAGE_FILE}: field {where!r}: {first['msg']}") from None
    model = directory / MODEL_FILE
    if not model.is_file():
        raise BatchInputError(f"model package {directory} has no {MODEL_FILE}")
    if meta.review_threshold is not None and meta.review_threshold > meta.threshold:
        raise BatchInputError(f"{directory / PACKAGE_FILE}: review_threshold is above threshold")
    if len(set(meta.feature_names)) != len(meta.feature_names):
        raise BatchInputError(f"{directory / PACKAGE_FILE}: feature_names has duplicates")
    return ModelPackage(
        name=meta.name,
        version=str(meta.version),
        feature_names=tuple(meta.feature_names),
        threshold=meta.threshold,
        directory=str(directory.resolve()),
        model_sha256=sha256_of(model),
        feature_service=meta.feature_service,
        review_threshold=meta.review_threshold,
    )


def resolve_package(
    models_dir: Path, *, alias: str | None = None, version: str | None = None
) -> ModelPackage:
    """The package behind an alias (default `champion`) or an explicit version."""
    if alias is not None and version is not None:
        raise BatchInputError("give either --alias or --version, not both")
    if version is not None:
        if not _ALIAS.match(version):
            raise BatchInputError(f"invalid model version {version!r}")
        directory = models_dir / "versions" / version
        if not directory.is_dir():
            raise BatchInputError(f"model version {version!r} not found in {models_dir / 'versions'}")
        return load_package(directory)
    name = alias or "champion"
    if not _ALIAS.match(name):
        raise BatchInputError(f"invalid model alias {name!r}")
    pointer_path = models_dir / f"{name}.json"
    if not pointer_path.is_file():
        known = sorted(p.stem for p in models_dir.glob("*.json")) if models_dir.is_dir() else []
        raise BatchInputError(
            f"unknown model alias {name!r} in {models_dir} (known: {', '.join(known) or 'none'})"
        )
    raw = _read_json(pointer_path, "alias file")
    try:
        pointer = _AliasJson.model_validate(raw)
    except ValidationError:
        raise BatchInputError(f"alias file {pointer_path} is not {{'version': ..., 'path': ...}}") from None
    relative = pointer.path or f"versions/{pointer.version}"
    directory = (models_dir / relative).resolve()
    if not directory.is_relative_to(models_dir.resolve()):
        raise BatchInputError(f"alias file {pointer_path} points outside {models_dir}")
    package = load_package(directory)
    if package.version != str(pointer.version):
        raise BatchInputError(
            f"alias {name!r} says version {pointer.version} but {directory} holds version {package.version}"
        )
    return package
