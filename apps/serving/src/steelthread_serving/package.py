"""Model packages as promotion publishes them, loaded into onnxruntime.

The format (manifest, pointers, hashes, smoke document) is `steelthread_contracts.package`'s; this module
adds the onnxruntime session and the checks that need it. Serving reads only the package files: it never
imports MLflow or training code, so the image stays small and the request path stays fast.

A package that ships its booster (`booster.txt`) also explains its answers (steelthread_serving.explain).

A package serves when its task is the use case's: a binary package answers `output[:, positive_class_index]`
and decides by its own thresholds; a regression package answers its one output value per row (`[N]` or
`[N, 1]`) and decides by the use case's policy cuts (`DecisionPolicy.thresholds_for`). Multiclass packages
are refused with that reason until serving answers them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from steelthread_contracts import ModelDescription
from steelthread_contracts import package as contract
from steelthread_contracts.decision import DecisionPolicy, Thresholds
from steelthread_contracts.explain import BoosterExplainer
from steelthread_contracts.package import (
    MODEL_FILE,
    SCORING_FILES,
    AliasPointer,
    PackageError,
    PackageManifest,
    Task,
)
from steelthread_serving.explain import load_explainer
from steelthread_serving.usecase import USE_CASE

__all__ = ["AliasPointer", "OnnxModel", "PackageError", "load_package", "read_pointer"]


@dataclass
class OnnxModel:
    """One loaded package: an onnxruntime session plus what it needs to answer."""

    manifest: PackageManifest
    path: Path
    session: ort.InferenceSession
    input_name: str
    output_name: str
    output_column: int | None
    policy: DecisionPolicy = USE_CASE.policy
    explainer: BoosterExplainer | None = None
    """The package's booster for `explain=true` (steelthread_serving.explain); None: no explanations."""
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def feature_names(self) -> list[str]:
        return self.manifest.feature_names

    @cached_property
    def thresholds(self) -> Thresholds | None:
        """A binary package's own cuts, otherwise the use case's (None: the policy's fallback decides)."""
        return self.policy.thresholds_for(self.manifest)

    @property
    def execution_provider(self) -> str:
        """The provider onnxruntime actually used first, never the one we asked for."""
        return str(self.session.get_providers()[0])

    def matrix(self, rows: list[dict[str, float | None]]) -> NDArray[np.float32]:
        names = self.feature_names
        return np.array(
            [[np.nan if (v := r.get(n)) is None else v for n in names] for r in rows], dtype=np.float32
        )

    def predict(self, matrix: NDArray[np.float32]) -> NDArray[np.float64]:
        (out,) = self.session.run([self.output_name], {self.input_name: matrix})
        scores = np.asarray(out, dtype=np.float64)
        if self.output_column is not None:
            scores = scores[:, self.output_column]
        return scores.reshape(-1)

    def describe(self) -> ModelDescription:
        return ModelDescription(
            name=self.name,
            version=self.version,
            loaded_at=self.loaded_at,
            feature_names=list(self.feature_names),
            threshold=self.manifest.threshold,
            execution_provider=self.execution_provider,
        )


def _signature(session: ort.InferenceSession, manifest: PackageManifest) -> tuple[str, str, int | None]:
    """The graph's input and score output are the ones package.json declares."""
    onnx = manifest.onnx
    inputs = session.get_inputs()
    if [i.name for i in inputs] != [onnx.input]:
        found = ", ".join(i.name for i in inputs)
        raise PackageError(f"model.onnx inputs are [{found}], package.json declares [{onnx.input}]")
    width = inputs[0].shape[1] if len(inputs[0].shape) == 2 else None
    if isinstance(width, int) and width != len(manifest.feature_names):
        raise PackageError(
            f"model expects {width} features but package.json lists {len(manifest.feature_names)}"
        )
    outputs = {o.name: o for o in session.get_outputs()}
    if onnx.output not in outputs:
        raise PackageError(f"model.onnx has no output {onnx.output!r} (has: {', '.join(outputs)})")
    shape = outputs[onnx.output].shape
    if manifest.task is Task.REGRESSION:
        width = shape[1] if len(shape) == 2 else 1  # a symbolic width is checked by the smoke run
        if len(shape) > 2 or (isinstance(width, int) and width != 1):
            raise PackageError(f"a regression model answers one value per row; {onnx.output} is {shape}")
        return inputs[0].name, onnx.output, None
    column = onnx.positive_class_index if len(shape) == 2 and shape[1] != 1 else None
    if manifest.task is Task.MULTICLASS and column is None:
        raise PackageError(
            f"a multiclass package names the class it scores (onnx.positive_class_index); {onnx.output} is "
            f"{shape}"
        )
    return inputs[0].name, onnx.output, column


def load_package(
    directory: Path,
    providers: list[str],
    expected_features: list[str] | None = None,
) -> OnnxModel:
    """Load, check and warm a package; raise `PackageError` with the reason when it must not serve."""
    manifest = contract.read_manifest(directory)
    if manifest.task is not USE_CASE.task:
        raise PackageError(
            f"package.json says task {manifest.task}, but use case {USE_CASE.name!r} is {USE_CASE.task}"
        )
    contract.verify_files(directory, manifest, SCORING_FILES)
    if expected_features is not None and manifest.feature_names != expected_features:
        missing = sorted(set(manifest.feature_names) - set(expected_features))
        raise PackageError(
            "feature list differs from the feature service"
            + (f" (unknown to the service: {', '.join(missing)})" if missing else " (order or set)")
        )
    available = set(ort.get_available_providers())
    chosen = [p for p in providers if p in available] or ["CPUExecutionProvider"]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(directory / MODEL_FILE), sess_options=options, providers=chosen)
    except Exception as exc:  # onnxruntime raises several untyped errors for a bad file
        raise PackageError(f"model.onnx does not load: {str(exc).splitlines()[0][:200]}") from None
    input_name, output_name, column = _signature(session, manifest)
    model = OnnxModel(
        manifest=manifest,
        path=directory,
        session=session,
        input_name=input_name,
        output_name=output_name,
        output_column=column,
        explainer=load_explainer(directory, manifest),
    )
    _smoke_check(model)
    return model


def _smoke_check(model: OnnxModel) -> None:
    """Warm the session and prove it answers what it answered at publish time."""
    smoke = contract.read_smoke(model.path, model.feature_names)
    try:
        scores = model.predict(np.array(smoke.matrix(), dtype=np.float32)).tolist()
    except Exception as exc:  # a graph that loads but cannot run
        raise PackageError(f"model fails on smoke inputs: {str(exc).splitlines()[0][:200]}") from None
    contract.check_smoke(smoke, scores)


def read_pointer(models_dir: Path, alias: str) -> AliasPointer | None:
    return contract.read_pointer(models_dir, alias)


def pointer_folder(models_dir: Path, alias: str, pointer: AliasPointer) -> Path:
    return contract.folder_of(models_dir, alias, pointer)
