"""Training's side of the model package: write a run's package, publish it, score its smoke cases.

The format itself (file names, manifest schema, pointers, hashes, atomic publish) belongs to
`steelthread_contracts.package`; this module adds only what needs training's libraries (pandas for the
reference parquet, onnxruntime to re-score the smoke cases) and turns the contract's `PackageError` into
training's error types, so the CLIs exit with their documented codes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from steelthread_contracts import package as contract
from steelthread_contracts.package import (
    ALIASES,
    BOOSTER_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    PACKAGE_FILE,
    REFERENCE_FILE,
    STABLE,
    OnnxSignature,
    PackageConflictError,
    PackageError,
    PackageManifest,
    RunManifest,
    SmokeDocument,
)
from steelthread_training.errors import CorruptArtifactError, PromotionError, TrainingError
from steelthread_training.export import (
    INPUT_NAME,
    OUTPUT_NAME,
    POSITIVE_CLASS_INDEX,
    onnx_scores,
    onnx_session,
)

__all__ = [
    "ALIASES",
    "MANIFEST_FILE",
    "MODEL_FILE",
    "PACKAGE_FILE",
    "STABLE",
    "keep_stable",
    "publish_version",
    "read_manifest",
    "read_pointer",
    "remove_pointer",
    "score_smoke",
    "settle_stable",
    "verify_package",
    "verify_run_package",
    "write_pointer",
    "write_run_package",
]


@contextmanager
def _as(error: type[TrainingError]) -> Iterator[None]:
    try:
        yield
    except PackageError as exc:
        raise error(str(exc)) from None


def signature_of(folder: Path) -> OnnxSignature:
    """The `onnx` block of the package.json (published) or manifest.json (a run's) beside the model; the
    binary default for a package whose manifest cannot say (the manifest is validated elsewhere)."""
    for name in (PACKAGE_FILE, MANIFEST_FILE):
        try:
            raw = json.loads((folder / name).read_bytes())
            return OnnxSignature.model_validate(raw.get("onnx") or {})
        except (OSError, ValueError, AttributeError):
            continue
    return OnnxSignature()


def score_smoke(model_file: Path, smoke: SmokeDocument) -> Sequence[float]:
    """The smoke cases scored by onnxruntime on `model_file` where its manifest says the score is (output
    and column); a graph that cannot run is corrupt."""
    signature = signature_of(model_file.parent)
    try:
        session = onnx_session(model_file.read_bytes())
        scores: list[float] = onnx_scores(
            session,
            np.array(smoke.matrix(), dtype=np.float64),
            output=signature.output,
            column=signature.positive_class_index,
        ).tolist()
    except Exception as exc:  # onnxruntime raises its own types for a bad graph
        raise PackageError(f"{model_file} cannot be scored: {' '.join(str(exc).split())[:200]}") from None
    return scores


def write_run_package(
    folder: Path,
    *,
    onnx_bytes: bytes,
    reference: pd.DataFrame,
    smoke: dict[str, Any],
    manifest: dict[str, Any],
    onnx: dict[str, Any] | None = None,
    booster: str | None = None,
) -> Path:
    """The package as a training run logs it: the files plus manifest.json with their hashes.

    `onnx` is the manifest's signature (input, output, positive_class_index); default a binary graph's.
    `booster` is the LightGBM model the graph was converted from, in LightGBM's text format: shipped as
    `booster.txt` so readers can explain decisions (steelthread_contracts.explain), never to score.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MODEL_FILE).write_bytes(onnx_bytes)
    if booster is not None:
        (folder / BOOSTER_FILE).write_text(booster)
    reference.to_parquet(folder / REFERENCE_FILE, index=False)
    with _as(CorruptArtifactError):
        contract.write_smoke(folder, SmokeDocument.model_validate(smoke))
        contract.write_run_manifest(
            folder,
            {
                **manifest,
                "onnx": onnx
                or {
                    "input": INPUT_NAME,
                    "output": OUTPUT_NAME,
                    "positive_class_index": POSITIVE_CLASS_INDEX,
                },
            },
        )
    return folder


def verify_run_package(folder: Path) -> RunManifest:
    """A run's package as logged: manifest valid, hashes match, the graph re-scores its smoke cases."""
    with _as(CorruptArtifactError):
        manifest = contract.read_run_manifest(folder)
        contract.verify_files(folder, manifest)
        smoke = contract.read_smoke(folder, manifest.feature_names)
        contract.check_smoke(smoke, score_smoke(folder / MODEL_FILE, smoke))
    return manifest


def verify_package(folder: Path) -> PackageManifest:
    """A published version: manifest valid, hashes match, the graph re-scores its smoke cases."""
    with _as(CorruptArtifactError):
        return contract.verify(folder, score_smoke=score_smoke)


def read_manifest(folder: Path) -> PackageManifest:
    with _as(CorruptArtifactError):
        return contract.read_manifest(folder)


def publish_version(source: Path, models_dir: Path, version: str) -> Path:
    """Copy a verified run package to versions/<version>/ (idempotent; a different package is refused)."""
    verify_run_package(source)
    try:
        return contract.publish(source, models_dir, version, score_smoke=score_smoke)
    except PackageConflictError as exc:
        raise PromotionError(str(exc)) from None
    except PackageError as exc:
        raise CorruptArtifactError(str(exc)) from None


def write_pointer(models_dir: Path, alias: str, version: str) -> Path:
    with _as(PromotionError):
        return contract.write_pointer(models_dir, alias, version)


def keep_stable(models_dir: Path, incoming: str) -> str | None:
    """Point `stable` at the champion that `incoming` is about to replace (see the contract's
    `keep_stable`); the version kept, if any."""
    with _as(PromotionError):
        return contract.keep_stable(models_dir, incoming)


def settle_stable(models_dir: Path) -> str:
    """Point `stable` at the champion (the canary went live); the version."""
    with _as(PromotionError):
        return contract.settle_stable(models_dir)


def read_pointer(models_dir: Path, alias: str) -> str | None:
    """The version an alias pointer names, or None when there is no pointer."""
    check_alias(alias)
    with _as(CorruptArtifactError):
        pointer = contract.read_pointer(models_dir, alias)
    return None if pointer is None else pointer.version


def remove_pointer(models_dir: Path, alias: str) -> None:
    with _as(PromotionError):
        contract.remove_pointer(models_dir, alias)


def check_alias(alias: str) -> str:
    with _as(PromotionError):
        return contract.check_alias(alias)
