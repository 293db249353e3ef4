"""Any registered version, scored and measured on any dataset: what fills the evaluation store.

A version is its run's model package (the ONNX graph serving answers with, its feature list, task and
decision threshold), so a version is measured exactly as it would answer, never as a re-trained model. The
metrics are the task's (`steelthread_training.tasks`, the same code the gate uses), so "ROC AUC of v3 on
last week's cohort" and "ROC AUC of v3 at training" are one definition. A version's own test set is its
package's `reference.parquet` (the test slice's features, labels and slices) with the time range of the run's
`split.json`.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from steelthread_contracts.package import MODEL_FILE, REFERENCE_FILE, RunManifest
from steelthread_training.config import TrainingConfig
from steelthread_training.errors import RegistryError, TrainingError
from steelthread_training.evalstore import Dataset
from steelthread_training.evaluation import Evaluation
from steelthread_training.export import onnx_predict, onnx_session
from steelthread_training.frame import LABEL, PROTECTED, SCORE
from steelthread_training.models import labels
from steelthread_training.package import verify_run_package
from steelthread_training.tasks import task_kind
from steelthread_training.tracking import PACKAGE_ARTIFACT, Registry


class MissingFeaturesError(TrainingError):
    """A dataset lacks features a version needs: it cannot be measured there (said, never guessed)."""


@dataclass(frozen=True)
class Version:
    """A registered version's package, ready to score."""

    version: str
    manifest: RunManifest
    folder: Path
    run_id: str

    @property
    def features(self) -> list[str]:
        return list(self.manifest.feature_names)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The version's prediction per row (`TrainedModel.score`'s shape) from its ONNX graph."""
        absent = [n for n in self.features if n not in frame.columns]
        if absent:
            raise MissingFeaturesError(
                f"version {self.version} needs features the dataset lacks: {', '.join(absent[:5])}"
            )
        session = onnx_session((self.folder / MODEL_FILE).read_bytes())
        return onnx_predict(session, frame[self.features].to_numpy(dtype=np.float64), self.manifest.task)

    def evaluate(self, dataset: Dataset, config: TrainingConfig) -> Evaluation:
        """The task's metrics, calibration, slices and fairness of this version on `dataset`."""
        frame = dataset.frame
        y = labels(frame, self.manifest.task)
        protected = PROTECTED if PROTECTED is not None and PROTECTED in frame.columns else None
        return task_kind(self.manifest.task).evaluate(
            f"v{self.version}",
            frame,
            y,
            self.predict(frame),
            threshold=self.manifest.threshold,
            config=config,
            protected=protected,
        )

    def test_set(self, registry: Registry | None = None) -> Dataset:
        """The version's own test set: its reference's features, labels and slices; the time range from
        the run's split.json when the registry is given and has it."""
        frame = pd.read_parquet(self.folder / REFERENCE_FILE)
        frame = frame.drop(columns=[SCORE], errors="ignore")
        if LABEL not in frame.columns:
            raise TrainingError(f"version {self.version}'s reference has no {LABEL!r} column")
        start = end = None
        if registry is not None:
            start, end = _test_range(registry, self.run_id)
        return Dataset(f"test:v{self.version}", "test", frame, start, end)


def _test_range(registry: Registry, run_id: str) -> tuple[datetime | None, datetime | None]:
    try:
        with tempfile.TemporaryDirectory(prefix="steelthread-split-") as tmp:
            split: dict[str, Any] = json.loads(registry.download(run_id, "split.json", Path(tmp)).read_text())
        test = split["test"]
        return datetime.fromisoformat(test["start"]), datetime.fromisoformat(test["end"])
    except (TrainingError, OSError, ValueError, KeyError, TypeError):
        return None, None


def registered_versions(registry: Registry) -> list[str]:
    """Every version of the registered model, oldest first."""
    with registry.call("listing versions"):
        found = registry.client.search_model_versions(f"name = '{registry.model_name}'")
    return sorted((str(v.version) for v in found), key=lambda v: (len(v), v))


@contextmanager
def loaded(registry: Registry, versions: Iterable[str]) -> Iterator[dict[str, Version]]:
    """The versions' run packages, downloaded and verified (hashes, smoke cases), for the block's life."""
    with tempfile.TemporaryDirectory(prefix="steelthread-versions-") as tmp:
        out: dict[str, Version] = {}
        for version in dict.fromkeys(str(v) for v in versions):
            run_id = str(registry.version(version).run_id)
            (Path(tmp) / version).mkdir()
            folder = registry.download(run_id, PACKAGE_ARTIFACT, Path(tmp) / version)
            out[version] = Version(version, verify_run_package(folder), folder, run_id)
        yield out


def require_versions(registry: Registry, asked: Iterable[str] | None) -> list[str]:
    """The versions asked for (each must exist), or every registered version."""
    known = registered_versions(registry)
    if asked is None:
        return known
    wanted = [str(v).strip() for v in asked]
    unknown = [v for v in wanted if v not in known]
    if unknown:
        raise RegistryError(
            f"model {registry.model_name!r} has no version {', '.join(unknown)} "
            f"(registered: {', '.join(known) or 'none'})"
        )
    return wanted
