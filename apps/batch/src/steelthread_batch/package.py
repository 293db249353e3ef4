"""Finding and describing a published model package.

Batch reads the same deployment location as serving (`<models_dir>/<alias>.json` pointing at
`versions/<v>/`), through the same contract (`steelthread_contracts.package`), so "which model scored this
row" has one answer across both paths and both refuse the same packages. The description is a small frozen
dataclass so it can be pickled to Spark executors; the ONNX file itself travels separately.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from steelthread_batch.errors import BatchInputError
from steelthread_contracts import package as contract
from steelthread_contracts.decision import Thresholds
from steelthread_contracts.package import MODEL_FILE, SCORING_FILES, PackageError, Task, sha256_file

__all__ = ["ModelPackage", "load_package", "resolve_package", "sha256_of"]

sha256_of = sha256_file


@dataclass(frozen=True)
class ModelPackage:
    """What scoring needs to know about one published model version."""

    name: str
    version: str
    feature_names: tuple[str, ...]
    threshold: float
    review_threshold: float
    directory: str
    model_sha256: str
    feature_service: str | None = None
    input_name: str = "features"
    output_name: str = "probabilities"
    positive_class_index: int | None = 1
    shipped_as: str | None = None
    """Name under which the package folder was shipped with SparkContext.addFile (executors)."""

    @property
    def model_path(self) -> Path:
        return Path(self.directory) / MODEL_FILE

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(review=self.review_threshold, decline=self.threshold)

    def shipped(self, name: str) -> ModelPackage:
        return replace(self, shipped_as=name)


def load_package(directory: Path) -> ModelPackage:
    """Read and check `<directory>/package.json` and the hashes of the files scoring reads."""
    try:
        manifest = contract.read_manifest(directory)
        if manifest.task is not Task.BINARY:
            raise PackageError(f"batch scores binary packages; {directory} is {manifest.task}")
        contract.verify_files(directory, manifest, SCORING_FILES)
        thresholds = Thresholds.of(manifest)
    except PackageError as exc:
        raise BatchInputError(str(exc)) from None
    return ModelPackage(
        name=manifest.name,
        version=manifest.version,
        feature_names=tuple(manifest.feature_names),
        threshold=thresholds.decline,
        review_threshold=thresholds.review,
        directory=str(directory.resolve()),
        model_sha256=manifest.sha256[MODEL_FILE],
        feature_service=manifest.feature_service,
        input_name=manifest.onnx.input,
        output_name=manifest.onnx.output,
        positive_class_index=manifest.onnx.positive_class_index,
    )


def resolve_package(
    models_dir: Path, *, alias: str | None = None, version: str | None = None
) -> ModelPackage:
    """The package behind an alias (default `champion`) or an explicit version."""
    try:
        folder = contract.resolve(models_dir, alias=alias, version=version)
    except PackageError as exc:
        raise BatchInputError(str(exc)) from None
    return load_package(folder)
