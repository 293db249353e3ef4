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
from steelthread_contracts.api import Decision, DecisionSource
from steelthread_contracts.decision import DecisionPolicy, Thresholds
from steelthread_contracts.package import (
    BOOSTER_FILE,
    MODEL_FILE,
    SCORING_FILES,
    PackageError,
    Task,
    sha256_file,
)
from steelthread_contracts.usecase import active

SCORED_TASKS = (Task.BINARY, Task.REGRESSION, Task.MULTICLASS)

__all__ = ["ModelPackage", "load_package", "resolve_package", "sha256_of"]

sha256_of = sha256_file


@dataclass(frozen=True)
class ModelPackage:
    """What scoring needs to know about one published model version."""

    name: str
    version: str
    feature_names: tuple[str, ...]
    threshold: float | None
    """The decline cut that decides: a binary package's own, or the policy's for a task whose packages
    state none; None when there are no cuts (every scored row gets `fallback`)."""
    review_threshold: float | None
    directory: str
    model_sha256: str
    feature_service: str | None = None
    input_name: str = "features"
    output_name: str = "probabilities"
    positive_class_index: int | None = 1
    shipped_as: str | None = None
    """Name under which the package folder was shipped with SparkContext.addFile (executors)."""
    task: Task = Task.BINARY
    fallback: Decision = Decision.REVIEW
    """The decision policy's answer for a scored row when there are no cuts (resolved on the driver, so
    executors never need the use case's policy)."""
    decided_by: DecisionSource = DecisionSource.PACKAGE
    """Which rule decides this package's scored rows (resolved on the driver, like `fallback`)."""
    booster_sha256: str | None = None
    """The shipped booster's hash (`booster.txt`, for reason codes); None when the package ships none."""
    reasons: bool = False
    """The run writes each row's reason codes (`--reasons`): set by `with_reasons`."""

    @property
    def model_path(self) -> Path:
        return Path(self.directory) / MODEL_FILE

    @property
    def thresholds(self) -> Thresholds | None:
        if self.threshold is None:
            return None
        review = self.threshold if self.review_threshold is None else self.review_threshold
        return Thresholds(review=review, decline=self.threshold)

    def shipped(self, name: str) -> ModelPackage:
        return replace(self, shipped_as=name)

    def with_reasons(self) -> ModelPackage:
        """This package, scoring with reason codes; refused when it ships no booster to explain with."""
        if self.booster_sha256 is None:
            raise BatchInputError(
                f"{self.directory} ships no {BOOSTER_FILE}: reason codes need the package's booster "
                "(packages trained before it was shipped cannot give them)"
            )
        return replace(self, reasons=True)


def load_package(directory: Path, policy: DecisionPolicy | None = None) -> ModelPackage:
    """Read and check `<directory>/package.json` and the hashes of the files scoring reads.

    `policy` decides for packages without thresholds (default: the active use case's).
    """
    policy = policy or active().policy
    try:
        manifest = contract.read_manifest(directory)
        if manifest.task not in SCORED_TASKS:
            known = " and ".join(t.value for t in SCORED_TASKS)
            raise PackageError(f"batch scores {known} packages; {directory} is {manifest.task.value}")
        contract.verify_files(directory, manifest, SCORING_FILES)
        thresholds = policy.thresholds_for(manifest)
    except PackageError as exc:
        raise BatchInputError(str(exc)) from None
    classified = manifest.task is not Task.REGRESSION
    return ModelPackage(
        name=manifest.name,
        version=manifest.version,
        feature_names=tuple(manifest.feature_names),
        threshold=None if thresholds is None else thresholds.decline,
        review_threshold=None if thresholds is None else thresholds.review,
        directory=str(directory.resolve()),
        model_sha256=manifest.sha256[MODEL_FILE],
        feature_service=manifest.feature_service,
        input_name=manifest.onnx.input,
        output_name=manifest.onnx.output,
        positive_class_index=manifest.onnx.positive_class_index if classified else None,
        task=manifest.task,
        fallback=policy.fallback,
        decided_by=policy.source_for(manifest),
        booster_sha256=manifest.sha256.get(BOOSTER_FILE),
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
