"""The self-contained model package that serving, batch and monitoring load (no MLflow needed).

Layout under the deployment location (`models_dir`):

    versions/<version>/model.onnx         float32 input `features` [N, F] -> `probabilities` [N, 2]
    versions/<version>/package.json       name, version, feature_names, threshold, ... (PACKAGE_FIELDS)
    versions/<version>/reference.parquet  feature columns, score, label, slice columns (monitoring)
    versions/<version>/smoke.json         fixed inputs with expected scores and bounds
    <alias>.json                          {"version": "3", "path": "versions/3"}, replaced atomically

A version folder is written under a temporary name and renamed into place, and an alias pointer is
swapped with os.replace, so a reader never sees half a package or a pointer to one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from steelthread_training.errors import CorruptArtifactError, PromotionError
from steelthread_training.export import (
    INPUT_NAME,
    OUTPUT_NAME,
    POSITIVE_CLASS_INDEX,
    onnx_scores,
    onnx_session,
)

FORMAT_VERSION: Final = 1
MODEL_FILE: Final = "model.onnx"
PACKAGE_FILE: Final = "package.json"
MANIFEST_FILE: Final = "manifest.json"
"""package.json without `version` (unknown until the registry assigns it): what a run logs."""
REFERENCE_FILE: Final = "reference.parquet"
SMOKE_FILE: Final = "smoke.json"
PACKAGE_FILES: Final = (MODEL_FILE, REFERENCE_FILE, SMOKE_FILE)
ALIASES: Final = ("challenger", "staging", "champion")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(_clean(data), indent=2) + "\n")


def write_run_package(
    folder: Path,
    *,
    onnx_bytes: bytes,
    reference: pd.DataFrame,
    smoke: dict[str, Any],
    manifest: dict[str, Any],
) -> Path:
    """The package as a training run logs it: the files plus manifest.json with their hashes."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MODEL_FILE).write_bytes(onnx_bytes)
    reference.to_parquet(folder / REFERENCE_FILE, index=False)
    write_json(folder / SMOKE_FILE, smoke)
    full = {
        **manifest,
        "format_version": FORMAT_VERSION,
        "onnx": {
            "input": INPUT_NAME,
            "output": OUTPUT_NAME,
            "dtype": "float32",
            "positive_class_index": POSITIVE_CLASS_INDEX,
            "missing_value": "NaN",
        },
        "sha256": {name: sha256_file(folder / name) for name in PACKAGE_FILES},
    }
    write_json(folder / MANIFEST_FILE, full)
    return folder


def read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CorruptArtifactError(f"{what} {path} is missing") from None
    except (OSError, ValueError) as exc:
        raise CorruptArtifactError(f"{what} {path} is not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CorruptArtifactError(f"{what} {path} is not a JSON object")
    return data


def verify_package(folder: Path, meta_file: str = PACKAGE_FILE) -> dict[str, Any]:
    """Hashes match, the ONNX graph loads and re-scores smoke.json's cases as recorded."""
    meta = read_json(folder / meta_file, "package metadata")
    hashes = meta.get("sha256")
    if not isinstance(hashes, dict):
        raise CorruptArtifactError(f"{folder / meta_file} has no sha256 table")
    for name in PACKAGE_FILES:
        path = folder / name
        if not path.is_file():
            raise CorruptArtifactError(f"package file {path} is missing")
        actual = sha256_file(path)
        if actual != hashes.get(name):
            raise CorruptArtifactError(f"package file {path} does not match its recorded sha256")
    smoke = read_json(folder / SMOKE_FILE, "smoke file")
    try:
        session = onnx_session((folder / MODEL_FILE).read_bytes())
        cases = smoke["cases"]
        x = np.array([[np.nan if v is None else v for v in c["features"]] for c in cases], dtype=np.float32)
        expected = np.array([c["expected_score"] for c in cases], dtype=np.float64)
        tolerance = float(smoke["tolerance"])
        scores = onnx_scores(session, x)
    except CorruptArtifactError:
        raise
    except Exception as exc:  # onnxruntime raises its own types for a bad graph
        raise CorruptArtifactError(
            f"package {folder} cannot be scored: {' '.join(str(exc).split())[:200]}"
        ) from None
    if not np.allclose(scores, expected, rtol=0.0, atol=tolerance):
        worst = float(np.max(np.abs(scores - expected)))
        raise CorruptArtifactError(f"package {folder}: smoke scores differ from expected by {worst:.3g}")
    return meta


def _atomic_write(path: Path, text: str) -> None:
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


def publish_version(source: Path, models_dir: Path, version: str) -> Path:
    """Copy a verified run package to versions/<version>/ with package.json (idempotent)."""
    manifest = verify_package(source, MANIFEST_FILE)
    target = models_dir / "versions" / version
    package = {**manifest, "version": version}
    if target.is_dir():
        existing = read_json(target / PACKAGE_FILE, "package metadata")
        if existing.get("sha256") == manifest["sha256"] and existing.get("run_id") == manifest.get("run_id"):
            verify_package(target)
            return target
        raise PromotionError(f"{target} already holds a different package; refusing to overwrite it")
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=_mkdir(models_dir / "versions")))
    try:
        for name in PACKAGE_FILES:
            shutil.copyfile(source / name, staging / name)
        write_json(staging / PACKAGE_FILE, package)
        verify_package(staging)
        os.chmod(staging, 0o755)  # noqa: S103 - mkdtemp makes 0700; serving may run as another user
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_alias(alias: str) -> str:
    if alias not in ALIASES:
        raise PromotionError(f"unknown alias {alias!r}; expected one of {', '.join(ALIASES)}")
    return alias


def write_pointer(models_dir: Path, alias: str, version: str) -> Path:
    """Point `<alias>.json` at versions/<version> (atomic replace)."""
    check_alias(alias)
    if not (models_dir / "versions" / version / PACKAGE_FILE).is_file():
        raise PromotionError(f"version {version} is not published in {models_dir}")
    path = models_dir / f"{alias}.json"
    _atomic_write(path, json.dumps({"version": version, "path": f"versions/{version}"}) + "\n")
    return path


def read_pointer(models_dir: Path, alias: str) -> str | None:
    """The version an alias pointer names, or None when there is no pointer."""
    check_alias(alias)
    path = models_dir / f"{alias}.json"
    if not path.exists():
        return None
    data = read_json(path, "alias pointer")
    version = data.get("version")
    if not isinstance(version, str):
        raise CorruptArtifactError(f"alias pointer {path} has no string 'version'")
    return version


def remove_pointer(models_dir: Path, alias: str) -> None:
    check_alias(alias)
    (models_dir / f"{alias}.json").unlink(missing_ok=True)
