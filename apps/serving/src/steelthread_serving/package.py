"""Model packages as promotion publishes them, loaded into onnxruntime.

A package is a folder (`model.onnx`, `package.json`, `smoke.json`, `reference.parquet`) plus alias pointer
files (`champion.json`, `challenger.json`) that promotion replaces atomically. Serving reads only these
files: it never imports MLflow or training code, so the image stays small and the request path stays fast.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from steelthread_contracts import ModelDescription
from steelthread_serving.models import Thresholds

SMOKE_TOLERANCE = 1e-4
"""Smoke scores were computed by onnxruntime at publish time; the same graph must reproduce them closely."""


class PackageError(Exception):
    """A package that must not serve; the message says why, for logs and `GET /v1/model`."""


class AliasPointer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: str
    path: str


class PackageManifest(BaseModel):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    name: str
    version: str
    feature_names: list[str] = Field(min_length=1)
    threshold: float = Field(gt=0.0, lt=1.0)
    review_threshold: float | None = Field(default=None, gt=0.0, lt=1.0)
    feature_service: str | None = None
    run_id: str | None = None
    created_at: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)


class SmokeCase(BaseModel):
    model_config = ConfigDict(extra="ignore")

    features: dict[str, float | None]
    expected_score: float


def _read_smoke(path: Path, feature_names: list[str]) -> tuple[list[SmokeCase], float]:
    """Read `{"feature_names", "tolerance", "cases": [{"features": [...] or {...}, "expected_score"}]}`.

    Features come either in the listed order (null = missing) or by name; the tolerance is the package's own
    when it states one (never looser than 1e-3), else SMOKE_TOLERANCE.
    """
    raw = json.loads(path.read_text())
    cases = raw.get("cases", []) if isinstance(raw, dict) else raw
    names = raw.get("feature_names", feature_names) if isinstance(raw, dict) else feature_names
    tolerance = (
        min(float(raw.get("tolerance", SMOKE_TOLERANCE)), 1e-3) if isinstance(raw, dict) else SMOKE_TOLERANCE
    )
    out = []
    for case in cases:
        features = case.get("features")
        if isinstance(features, list):
            if len(features) != len(names):
                raise PackageError(
                    f"{path.name}: a case has {len(features)} values for {len(names)} features"
                )
            features = dict(zip(names, features, strict=True))
        if not isinstance(features, dict):
            raise PackageError(f"{path.name}: smoke case without `features`")
        expected = case.get("expected_score", case.get("score"))
        out.append(SmokeCase(features=features, expected_score=expected))
    return out, tolerance


@dataclass
class OnnxModel:
    """One loaded package: an onnxruntime session plus what it needs to answer."""

    manifest: PackageManifest
    path: Path
    session: ort.InferenceSession
    input_name: str
    output_name: str
    output_column: int | None
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
    def thresholds(self) -> Thresholds:
        decline = self.manifest.threshold
        review = self.manifest.review_threshold or decline * 0.75
        return Thresholds(review=min(review, decline), decline=decline)

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


def _pick_output(session: ort.InferenceSession) -> tuple[str, int | None]:
    """LightGBM via onnxmltools (zipmap off) gives `label` and `probabilities` [n, 2]; prefer that column 1.
    A graph with a single [n] or [n, 1] float output is taken as the score itself."""
    outputs = session.get_outputs()
    for out in outputs:
        if out.name == "probabilities":
            return out.name, 1
    for out in outputs:
        if "float" in out.type:
            shape = out.shape
            if len(shape) == 2 and shape[1] == 2:
                return out.name, 1
            if len(shape) == 1 or (len(shape) == 2 and shape[1] == 1):
                return out.name, None
    raise PackageError("ONNX graph has no probability output ([n, 2] or [n] float)")


def load_package(
    directory: Path,
    providers: list[str],
    expected_features: list[str] | None = None,
) -> OnnxModel:
    """Load, check and warm a package; raise `PackageError` with the reason when it must not serve."""
    manifest_path = directory / "package.json"
    model_path = directory / "model.onnx"
    try:
        manifest = PackageManifest.model_validate_json(manifest_path.read_bytes())
    except FileNotFoundError:
        raise PackageError(f"{manifest_path} is missing") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PackageError(
            f"package.json invalid at {'.'.join(map(str, first['loc']))}: {first['msg']}"
        ) from None
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
        session = ort.InferenceSession(str(model_path), sess_options=options, providers=chosen)
    except Exception as exc:  # onnxruntime raises several untyped errors for a bad file
        raise PackageError(f"model.onnx does not load: {str(exc).splitlines()[0][:200]}") from None
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise PackageError(f"expected one input tensor, found {len(inputs)}")
    width = inputs[0].shape[1] if len(inputs[0].shape) == 2 else None
    if isinstance(width, int) and width != len(manifest.feature_names):
        raise PackageError(
            f"model expects {width} features but package.json lists {len(manifest.feature_names)}"
        )
    output_name, column = _pick_output(session)
    model = OnnxModel(
        manifest=manifest,
        path=directory,
        session=session,
        input_name=inputs[0].name,
        output_name=output_name,
        output_column=column,
    )
    _smoke_check(model, directory / "smoke.json")
    return model


def _smoke_check(model: OnnxModel, smoke_path: Path) -> None:
    """Warm the session and prove it answers what it answered at publish time."""
    if not smoke_path.is_file():
        raise PackageError("smoke.json is missing: a package must prove it answers before it serves")
    try:
        cases, tolerance = _read_smoke(smoke_path, model.feature_names)
    except (ValueError, ValidationError, AttributeError, TypeError) as exc:
        raise PackageError(f"smoke.json unreadable: {str(exc).splitlines()[0][:200]}") from None
    if not cases:
        raise PackageError("smoke.json has no cases")
    try:
        scores = model.predict(model.matrix([c.features for c in cases]))
    except Exception as exc:  # a graph that loads but cannot run
        raise PackageError(f"model fails on smoke inputs: {str(exc).splitlines()[0][:200]}") from None
    for case, score in zip(cases, scores, strict=True):
        if not math.isfinite(score) or abs(score - case.expected_score) > tolerance:
            raise PackageError(f"smoke check failed: score {score:.6f} != expected {case.expected_score:.6f}")


def read_pointer(models_dir: Path, alias: str) -> AliasPointer | None:
    path = models_dir / f"{alias}.json"
    if not path.is_file():
        return None
    try:
        return AliasPointer.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise PackageError(f"{path.name} is not a valid alias pointer: {exc.errors()[0]['msg']}") from None
