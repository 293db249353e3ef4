"""The model package: the one owner of its format, written by training and read by everyone else.

Layout under the deployment location (`models_dir`):

    versions/<version>/model.onnx         float32 input [N, F] -> the score output named in `onnx`
    versions/<version>/package.json       `PackageManifest`: name, version, task, feature_names, thresholds...
    versions/<version>/reference.parquet  feature columns, score, label, slice columns (monitoring)
    versions/<version>/smoke.json         `SmokeDocument`: fixed inputs with expected scores and bounds
    versions/<version>/booster.txt        optional: the LightGBM model the graph was converted from, as
                                          LightGBM's text format; readers use it only to explain decisions
                                          (per-feature contributions), never to score
    <alias>.json                          `AliasPointer` {"version": "3", "path": "versions/3"}
    stable.json                           the champion the current one replaced (`keep_stable`), until the
                                          new one goes live (`settle_stable`)

A training run logs the same files with `manifest.json` (the manifest before the registry gives it a
version); `publish` copies them to `versions/<version>/` under a temporary name and renames the folder
into place, and `write_pointer` swaps an alias with os.replace, so a reader never sees half a package or a
pointer to one.

Readers (serving, batch, monitoring, tests) go through `resolve`, `read_manifest`, `verify_files` and
`check_smoke`; where the readers of the past disagreed the strictest rule won: the version is a string
of safe characters, an alias must be a known one and may not point outside `models_dir`, the pointer's
version must be the package's, feature names are unique, a binary package states both thresholds, and
every file a reader uses must match its recorded sha256. This module needs only pydantic: scoring the
smoke cases is the caller's (each reader has its own onnxruntime session), comparing them is here.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

FORMAT_VERSION: Final = 1
"""What `publish` writes. A reader accepts every version in SUPPORTED_FORMATS."""
SUPPORTED_FORMATS: Final = frozenset({1})
MODEL_FILE: Final = "model.onnx"
PACKAGE_FILE: Final = "package.json"
MANIFEST_FILE: Final = "manifest.json"
"""package.json without `version` (unknown until the registry assigns it): what a training run logs."""
REFERENCE_FILE: Final = "reference.parquet"
SMOKE_FILE: Final = "smoke.json"
BOOSTER_FILE: Final = "booster.txt"
PACKAGE_FILES: Final = (MODEL_FILE, REFERENCE_FILE, SMOKE_FILE)
"""The files a complete package has; the manifest records the sha256 of each (and of OPTIONAL_FILES)."""
OPTIONAL_FILES: Final = (BOOSTER_FILE,)
"""Files a package may ship: recorded and verified when present, never required (older packages and
models without a native form lack them)."""
SCORING_FILES: Final = (MODEL_FILE, SMOKE_FILE)
"""What a scorer (serving, batch) reads and verifies."""
ALIASES: Final = ("challenger", "staging", "champion")
"""The registry's aliases, in promotion order: each moves through gates and is audited."""
STABLE: Final = "stable"
"""The previous champion: the version `champion` named before the last promotion replaced it. A pointer in
the deployment location only, never a registry alias: during a canary it answers the entities outside the
canary fraction (and in shadow mode every entity), so customers keep the answers they had, never the
constant model's. Written by `keep_stable` just before `champion` moves; `settle_stable` makes it the
champion once the canary went live."""
POINTER_ALIASES: Final = (*ALIASES, STABLE)
"""Every alias a pointer file may have."""
VERSION_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$"
_VERSION: Final = re.compile(VERSION_PATTERN)
MAX_SMOKE_TOLERANCE: Final = 1e-3
"""A smoke document may state its own tolerance, never looser than this (the same float32 graph)."""


M = TypeVar("M", bound=BaseModel)


class PackageError(ValueError):
    """A package, pointer or smoke document that must not be used; the message says why, in one line."""


class PackageConflictError(PackageError):
    """A version is already published with different contents: it is never overwritten."""


class Task(StrEnum):
    """What the model predicts; it selects the objective, metrics, ONNX output and decision rule."""

    BINARY = "binary"
    REGRESSION = "regression"
    MULTICLASS = "multiclass"


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, protected_namespaces=())


class OnnxSignature(_Contract):
    """How to feed the graph and where its score is: `output[:, positive_class_index]` for binary."""

    model_config = ConfigDict(extra="forbid")

    input: str = "features"
    output: str = "probabilities"
    dtype: Literal["float32"] = "float32"
    positive_class_index: int | None = Field(default=1, ge=0)
    missing_value: Literal["NaN"] = "NaN"


class RunManifest(_Contract):
    """manifest.json of a training run: the package's description before it has a registry version.

    Unknown fields pass through (provenance such as seed, git sha and data fingerprint), so adding one is
    a compatible change; every field a reader relies on is declared and checked here.
    """

    model_config = ConfigDict(extra="allow")

    format_version: int
    task: Task = Field(default=Task.BINARY, description="Format 1 packages without it are binary.")
    name: str = Field(min_length=1)
    feature_names: list[str] = Field(min_length=1)
    threshold: float | None = Field(default=None, allow_inf_nan=False)
    review_threshold: float | None = Field(default=None, allow_inf_nan=False)
    feature_service: str | None = None
    run_id: str | None = None
    created_at: AwareDatetime | None = None
    metrics: dict[str, float | None] = Field(default_factory=dict)
    slice_columns: list[str] = Field(default_factory=list)
    onnx: OnnxSignature = Field(default_factory=OnnxSignature)
    sha256: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> RunManifest:
        if self.format_version not in SUPPORTED_FORMATS:
            known = ", ".join(map(str, sorted(SUPPORTED_FORMATS)))
            raise ValueError(f"format_version {self.format_version} is not supported (known: {known})")
        if len(set(self.feature_names)) != len(self.feature_names):
            raise ValueError("feature_names has duplicates")
        if self.task is Task.BINARY:
            if self.threshold is None or self.review_threshold is None:
                raise ValueError("a binary package states threshold and review_threshold")
            if not 0.0 < self.threshold < 1.0:
                raise ValueError("threshold must be inside (0, 1)")
            if not 0.0 < self.review_threshold <= self.threshold:
                raise ValueError("review_threshold must be inside (0, threshold]")
        return self


class PackageManifest(RunManifest):
    """package.json of a published version: the run manifest plus the registry's version."""

    version: str = Field(pattern=VERSION_PATTERN)


class AliasPointer(_Contract):
    """`<alias>.json`: which published version an alias names."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(pattern=VERSION_PATTERN)
    path: str = Field(min_length=1)


class SmokeCase(_Contract):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    why: str = ""
    features: list[float | None] = Field(description="In the document's feature order; null = missing.")
    expected_score: float = Field(allow_inf_nan=False)
    bounds: tuple[float, float] | None = None


class SmokeDocument(_Contract):
    """smoke.json: feature vectors and the scores the published graph gave them."""

    model_config = ConfigDict(extra="forbid")

    feature_names: list[str] = Field(min_length=1)
    tolerance: float = Field(gt=0.0, le=MAX_SMOKE_TOLERANCE)
    missing: str = "null in `features` is a missing value: send NaN in the float32 tensor"
    cases: list[SmokeCase] = Field(min_length=1)

    @model_validator(mode="after")
    def _widths(self) -> SmokeDocument:
        for i, case in enumerate(self.cases):
            if len(case.features) != len(self.feature_names):
                raise ValueError(
                    f"case {i} has {len(case.features)} values for {len(self.feature_names)} features"
                )
        return self

    def matrix(self) -> list[list[float]]:
        """The cases as rows of floats, NaN for missing: what the caller turns into a float32 tensor."""
        return [[math.nan if v is None else v for v in case.features] for case in self.cases]


# --- reading ---------------------------------------------------------------------------------------------


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(map(str, first["loc"]))
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        raise PackageError(f"{what} {path} is missing") from None
    except (OSError, ValueError) as exc:
        raise PackageError(f"{what} {path} is not readable JSON ({str(exc)[:120]})") from None


def _model(model: type[M], path: Path, what: str) -> M:
    raw = _read_json(path, what)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise PackageError(f"{what} {path} is invalid: {_first_error(exc)}") from None


def read_manifest(folder: Path) -> PackageManifest:
    """package.json of a published version folder, validated."""
    return _model(PackageManifest, folder / PACKAGE_FILE, "package metadata")


def read_run_manifest(folder: Path) -> RunManifest:
    """manifest.json of a training run's package folder, validated."""
    return _model(RunManifest, folder / MANIFEST_FILE, "run manifest")


def read_smoke(folder: Path, feature_names: Sequence[str]) -> SmokeDocument:
    """smoke.json, whose feature order must be the package's."""
    smoke = _model(SmokeDocument, folder / SMOKE_FILE, "smoke file")
    if list(smoke.feature_names) != list(feature_names):
        raise PackageError(f"{folder / SMOKE_FILE}: feature_names differ from the package's")
    return smoke


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ships(manifest: RunManifest, name: str) -> bool:
    """Whether the package ships an optional file (the manifest records its hash)."""
    return name in manifest.sha256


def files_of(manifest: RunManifest) -> tuple[str, ...]:
    """The required files plus the optional ones this package ships: what a full verification checks."""
    return (*PACKAGE_FILES, *(n for n in OPTIONAL_FILES if ships(manifest, n)))


def verify_files(folder: Path, manifest: RunManifest, names: Iterable[str] | None = None) -> None:
    """Each named file (default: `files_of(manifest)`) exists and matches the sha256 the manifest recorded
    for it."""
    for name in files_of(manifest) if names is None else names:
        path = folder / name
        if not path.is_file():
            raise PackageError(f"package file {path} is missing")
        recorded = manifest.sha256.get(name)
        if recorded is None:
            raise PackageError(f"{folder}: the manifest records no sha256 for {name}")
        if sha256_file(path) != recorded:
            raise PackageError(f"package file {path} does not match its recorded sha256")


def check_smoke(smoke: SmokeDocument, scores: Sequence[float]) -> None:
    """The scores a reader's own session gave the smoke cases are the published ones, within tolerance."""
    if len(scores) != len(smoke.cases):
        raise PackageError(f"smoke check: {len(scores)} scores for {len(smoke.cases)} cases")
    for case, score in zip(smoke.cases, scores, strict=True):
        if not math.isfinite(score) or abs(score - case.expected_score) > smoke.tolerance:
            label = f" ({case.name})" if case.name else ""
            raise PackageError(
                f"smoke check failed{label}: score {score:.6f} != expected {case.expected_score:.6f}"
            )


def check_alias(alias: str) -> str:
    if alias not in POINTER_ALIASES:
        raise PackageError(f"unknown alias {alias!r}; expected one of {', '.join(POINTER_ALIASES)}")
    return alias


def pointer_path(models_dir: Path, alias: str) -> Path:
    return models_dir / f"{check_alias(alias)}.json"


def read_pointer(models_dir: Path, alias: str) -> AliasPointer | None:
    """The pointer `<alias>.json`, or None when the alias names nothing."""
    path = pointer_path(models_dir, alias)
    if not path.is_file():
        return None
    return _model(AliasPointer, path, "alias pointer")


def version_dir(models_dir: Path, version: str) -> Path:
    """`versions/<version>` after checking that the version is a safe name."""
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise PackageError(f"invalid model version {version!r} (letters, digits, '_' and '-' only)")
    return models_dir / "versions" / version


def folder_of(models_dir: Path, alias: str, pointer: AliasPointer) -> Path:
    """The folder a pointer names, refused when it leaves `models_dir/versions`."""
    root = (models_dir / "versions").resolve()
    folder = (models_dir / pointer.path).resolve()
    if not folder.is_relative_to(root) or folder == root:
        raise PackageError(f"alias pointer {pointer_path(models_dir, alias)} points outside {root}")
    return folder


def resolve(models_dir: Path, *, alias: str | None = None, version: str | None = None) -> Path:
    """The published folder behind an alias (default `champion`) or an explicit version.

    The pointer's path must stay inside `models_dir` and the folder's package.json must carry the version
    the pointer names; both are checked here so no reader can skip them.
    """
    if alias is not None and version is not None:
        raise PackageError("give either an alias or a version, not both")
    if version is not None:
        folder = version_dir(models_dir, version)
        if not (folder / PACKAGE_FILE).is_file():
            raise PackageError(f"model version {version!r} is not published in {models_dir}")
        return folder
    name = alias or "champion"
    pointer = read_pointer(models_dir, name)
    if pointer is None:
        known = [a for a in POINTER_ALIASES if pointer_path(models_dir, a).is_file()]
        raise PackageError(
            f"no model is {name!r} in {models_dir}: no pointer {name}.json "
            f"(aliases with a pointer: {', '.join(known) or 'none'})"
        )
    folder = folder_of(models_dir, name, pointer)
    manifest = read_manifest(folder)
    if manifest.version != pointer.version:
        raise PackageError(
            f"alias {name!r} names version {pointer.version} but {folder} holds version {manifest.version}"
        )
    return folder


# --- writing ---------------------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: a metric that could not be computed is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(_clean(data), indent=2) + "\n")


def atomic_write(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step (temp file, fsync, rename): a reader or a crash sees the old
    content or the new one, never a torn file. Pointers and training's promotion journal use it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; serving may run as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """fsync a folder, so a rename or unlink in it survives a crash of the machine, not only the process."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_run_manifest(folder: Path, fields: dict[str, Any]) -> RunManifest:
    """Hash the package files already in `folder` and write manifest.json from `fields` (validated).

    `format_version` and `sha256` are this module's to fill; a file missing from the folder is simply not
    recorded (a reference-only package for monitoring), and readers refuse what they need but lack.
    """
    hashes = {
        name: sha256_file(folder / name)
        for name in (*PACKAGE_FILES, *OPTIONAL_FILES)
        if (folder / name).is_file()
    }
    try:
        manifest = RunManifest.model_validate({**fields, "format_version": FORMAT_VERSION, "sha256": hashes})
    except ValidationError as exc:
        raise PackageError(f"run manifest for {folder} is invalid: {_first_error(exc)}") from None
    write_json(folder / MANIFEST_FILE, manifest.model_dump(mode="json"))
    return manifest


def write_smoke(folder: Path, smoke: SmokeDocument) -> None:
    write_json(folder / SMOKE_FILE, smoke.model_dump(mode="json"))


def publish(
    source: Path,
    models_dir: Path,
    version: str,
    *,
    score_smoke: Callable[[Path, SmokeDocument], Sequence[float]] | None = None,
) -> Path:
    """Copy a run package to versions/<version>/ with its package.json (idempotent); return the folder.

    The files are verified against the run manifest before the copy and again in the copy; with
    `score_smoke` (a function scoring the smoke cases with the package's model file) the smoke scores
    are re-checked too. Publishing the same run twice is a no-op; a different package under an existing
    version is refused, never overwritten.
    """
    manifest = read_run_manifest(source)
    verify_files(source, manifest, list(manifest.sha256))
    target = version_dir(models_dir, version)
    fields = {**manifest.model_dump(mode="json"), "version": version}
    if target.is_dir():
        existing = read_manifest(target)
        if existing.sha256 == manifest.sha256 and existing.run_id == manifest.run_id:
            verify(target, names=list(manifest.sha256), score_smoke=score_smoke)
            return target
        raise PackageConflictError(f"{target} already holds a different package; refusing to overwrite it")
    (models_dir / "versions").mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=models_dir / "versions"))
    try:
        for name in manifest.sha256:
            shutil.copyfile(source / name, staging / name)
        write_json(staging / PACKAGE_FILE, fields)
        verify(staging, names=list(manifest.sha256), score_smoke=score_smoke)
        os.chmod(staging, 0o755)  # noqa: S103 - mkdtemp makes 0700; serving may run as another user
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def verify(
    folder: Path,
    *,
    names: Iterable[str] | None = None,
    score_smoke: Callable[[Path, SmokeDocument], Sequence[float]] | None = None,
) -> PackageManifest:
    """Manifest valid, the named files (default: `files_of`) match their hashes and, with `score_smoke`,
    the smoke scores."""
    manifest = read_manifest(folder)
    verify_files(folder, manifest, names)
    if score_smoke is not None:
        smoke = read_smoke(folder, manifest.feature_names)
        check_smoke(smoke, score_smoke(folder / MODEL_FILE, smoke))
    return manifest


def write_pointer(models_dir: Path, alias: str, version: str) -> Path:
    """Point `<alias>.json` at versions/<version> (atomic replace); the version must be published."""
    path = pointer_path(models_dir, alias)
    if not (version_dir(models_dir, version) / PACKAGE_FILE).is_file():
        raise PackageError(f"version {version} is not published in {models_dir}")
    pointer = AliasPointer(version=version, path=f"versions/{version}")
    atomic_write(path, pointer.model_dump_json() + "\n")
    return path


def remove_pointer(models_dir: Path, alias: str) -> None:
    pointer_path(models_dir, alias).unlink(missing_ok=True)


def keep_stable(models_dir: Path, incoming: str) -> str | None:
    """Before `champion` moves to `incoming`: point `stable` at the version `champion` names now, so the
    package being replaced stays loadable; return that version.

    Called first, so serving never sees the new champion without the old one beside it. Without a champion
    pointer there is nothing to keep (a first promotion); a champion that already is `incoming` (a repeated
    promotion) leaves `stable` as it is. Either way the current `stable` is returned.
    """
    current = read_pointer(models_dir, "champion")
    if current is not None and current.version != incoming:
        write_pointer(models_dir, STABLE, current.version)
        return current.version
    kept = read_pointer(models_dir, STABLE)
    return None if kept is None else kept.version


def settle_stable(models_dir: Path) -> str:
    """The canary is over (the champion went live): point `stable` at the champion too, so shadow or canary
    mode outside a promotion serves the champion customers have, never an older one. Returns the version."""
    current = read_pointer(models_dir, "champion")
    if current is None:
        raise PackageError(f"no champion in {models_dir}: nothing to settle as stable")
    write_pointer(models_dir, STABLE, current.version)
    return current.version
