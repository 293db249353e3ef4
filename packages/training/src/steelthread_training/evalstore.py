"""The model evaluation store: how every registered version did on the same datasets (ADR 0016).

The store is MLflow itself, so it is the SQLite and file store on a laptop and the MLflow server (PostgreSQL
behind it) in production, with no table or migration of our own. Everything lives in one experiment,
`<experiment>-evaluations`, beside the training runs:

- an **evaluation** run per (model version, dataset): tags name the version, the dataset (name, kind,
  fingerprint, time range) and the task; the task's metrics, overall and per slice (`slice.<col>.<value>.
  <metric>`), and the fairness ratio are its metrics; `evaluation.json` holds calibration and the slices as
  measured. Recording is idempotent on (version, fingerprint): a backfill run twice stores one row.
- a **dataset** run per labelled production cohort, holding the rows (`cohort.parquet`), so a version
  registered after the backfill (a new challenger) is evaluated later on exactly the same rows.
- a **paired** run per champion/challenger verdict (steelthread_training.paired), so "was the challenger
  better on live traffic" has a stored answer.

Which metric means what is the task's (`steelthread_training.tasks`): this module stores, it never scores.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Final, Literal

import pandas as pd

from steelthread_training.errors import CorruptArtifactError
from steelthread_training.evaluation import Evaluation
from steelthread_training.tracking import Registry

EXPERIMENT_SUFFIX: Final = "-evaluations"
KIND: Final = "st_kind"
"""Tag telling an evaluation, a dataset and a paired run apart."""
EVALUATION_FILE: Final = "evaluation.json"
COHORT_FILE: Final = "cohort.parquet"
DatasetKind = Literal["test", "cohort"]
RunKind = Literal["evaluation", "dataset", "paired"]
_KEY: Final = re.compile(r"[^\w.\- /]")
"""Characters MLflow refuses in a metric name (a slice value may hold any)."""


def _key(text: str) -> str:
    return _KEY.sub("_", text)


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of the rows and columns (column order and row order left out): two reads of one cohort, or
    one test set downloaded twice, have one fingerprint."""
    ordered = frame[sorted(frame.columns)]
    ordered = ordered.sort_values(list(ordered.columns), kind="stable", na_position="last")
    digest = hashlib.sha256(",".join(ordered.columns).encode())
    digest.update(pd.util.hash_pandas_object(ordered, index=False).to_numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset as the store names it (the rows themselves stay with `Dataset`)."""

    name: str
    kind: DatasetKind
    fingerprint: str
    rows: int
    start: datetime | None = None
    end: datetime | None = None

    def tags(self) -> dict[str, str]:
        return {
            "dataset_name": self.name,
            "dataset_kind": self.kind,
            "dataset_fingerprint": self.fingerprint,
            "dataset_rows": str(self.rows),
            "dataset_start": self.start.isoformat() if self.start else "",
            "dataset_end": self.end.isoformat() if self.end else "",
        }

    @staticmethod
    def from_tags(tags: Mapping[str, str]) -> DatasetInfo:
        def when(key: str) -> datetime | None:
            value = tags.get(key, "")
            return datetime.fromisoformat(value) if value else None

        kind = tags.get("dataset_kind", "test")
        return DatasetInfo(
            name=tags.get("dataset_name", "?"),
            kind="cohort" if kind == "cohort" else "test",
            fingerprint=tags.get("dataset_fingerprint", ""),
            rows=int(tags.get("dataset_rows", "0") or 0),
            start=when("dataset_start"),
            end=when("dataset_end"),
        )


@dataclass(frozen=True)
class Dataset:
    """Labelled rows every version is measured on: its features, the label column and slice columns.

    A version's own test set (`kind="test"`, named `test:v<version>`) or a labelled production cohort
    (`kind="cohort"`, named after its time range)."""

    name: str
    kind: DatasetKind
    frame: pd.DataFrame
    start: datetime | None = None
    end: datetime | None = None

    @cached_property
    def info(self) -> DatasetInfo:
        return DatasetInfo(
            self.name, self.kind, fingerprint(self.frame), len(self.frame), self.start, self.end
        )


@dataclass(frozen=True)
class StoredEvaluation:
    """One row of the store: a version's metrics on a dataset."""

    version: str
    dataset: DatasetInfo
    task: str
    metrics: dict[str, float]
    run_id: str
    recorded_at: datetime | None = None

    @property
    def overall(self) -> dict[str, float]:
        return {k: v for k, v in self.metrics.items() if not k.startswith(("slice.", "fairness."))}


@dataclass(frozen=True)
class StoredVerdict:
    """A paired champion/challenger verdict as stored (`steelthread_training.paired.PairedVerdict`)."""

    champion: str
    challenger: str
    verdict: str
    run_id: str
    document: dict[str, Any] = field(default_factory=dict)


def _finite(metrics: Mapping[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and math.isfinite(v)}


def evaluation_metrics(evaluation: Evaluation) -> dict[str, float]:
    """The run's metrics: the task's overall metrics, every slice's, and the fairness ratio."""
    out = dict(evaluation.metrics.as_dict())
    for row in evaluation.slices:
        values = asdict(row)  # type: ignore[call-overload]
        prefix = f"slice.{_key(row.column)}.{_key(row.value)}"
        for name, value in values.items():
            if name not in {"column", "value", "gated"} and isinstance(value, int | float):
                out[f"{prefix}.{name}"] = float(value)
    if evaluation.fairness is not None:
        out["fairness.ratio"] = float(evaluation.fairness.ratio)
    return _finite(out)


def evaluation_document(evaluation: Evaluation) -> dict[str, Any]:
    """evaluation.json: what the metrics cannot hold (calibration table, slices as measured, fairness)."""
    fairness = evaluation.fairness
    return {
        "task": str(evaluation.task),
        "threshold": evaluation.threshold,
        "metrics": _finite(evaluation.metrics.as_dict()),
        "slices": [asdict(s) for s in evaluation.slices],  # type: ignore[call-overload]
        "calibration": evaluation.calibration.to_dict(orient="records"),
        "fairness": asdict(fairness) if fairness is not None else None,  # type: ignore[call-overload]
    }


class EvaluationStore:
    """Read and write the store through one `Registry` (its MLflow client, timeouts and error lines)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.model = registry.model_name
        self._experiment: str | None = None

    @property
    def experiment_name(self) -> str:
        return f"{self.registry.settings.experiment_name}{EXPERIMENT_SUFFIX}"

    def experiment_id(self) -> str:
        if self._experiment is not None:
            return self._experiment
        client, name = self.registry.client, self.experiment_name
        with self.registry.call("reading the evaluation store"):
            found = client.get_experiment_by_name(name)
            if found is not None:
                self._experiment = str(found.experiment_id)
            else:
                uri = self.registry.uri
                location = None if uri.startswith("http") else self.registry.settings.resolved_artifacts_uri()
                self._experiment = str(client.create_experiment(name, artifact_location=location))
        return self._experiment

    def _search(self, kind: RunKind, **tags: str) -> list[Any]:
        clauses = [
            f"tags.{KIND} = '{kind}'",
            f"tags.model_name = '{self.model}'",
            "attributes.status = 'FINISHED'",  # a run a failure left half written is not stored
        ]
        clauses += [f"tags.{k} = '{v}'" for k, v in tags.items()]
        runs: list[Any] = []
        token: str | None = None
        with self.registry.call("searching the evaluation store"):
            while True:
                page = self.registry.client.search_runs(
                    [self.experiment_id()],
                    filter_string=" and ".join(clauses),
                    max_results=1000,
                    order_by=["attributes.start_time DESC"],
                    page_token=token,
                )
                runs.extend(page)
                token = page.token
                if not token:
                    return runs

    def _create(self, kind: RunKind, name: str, tags: dict[str, str]) -> str:
        client = self.registry.client
        with self.registry.call("writing to the evaluation store"):
            run = client.create_run(
                self.experiment_id(),
                run_name=name,
                tags={KIND: kind, "model_name": self.model, **tags},
            )
        return str(run.info.run_id)

    def _finish(self, run_id: str, metrics: Mapping[str, float], document: Any, file_name: str) -> None:
        from mlflow.entities import Metric

        client = self.registry.client
        with self.registry.call("writing to the evaluation store"):
            if metrics:
                stamp = int(datetime.now().timestamp() * 1000)
                batch = [Metric(k, v, stamp, 0) for k, v in metrics.items()]
                for i in range(0, len(batch), 500):
                    client.log_batch(run_id, metrics=batch[i : i + 500])
            if document is not None:
                client.log_text(run_id, json.dumps(document, indent=2, default=str), file_name)
            client.set_terminated(run_id)

    # --- evaluations -------------------------------------------------------------------------------
    def record(
        self, version: str, dataset: DatasetInfo, evaluation: Evaluation, *, searched: bool = False
    ) -> StoredEvaluation:
        """Store `evaluation` of `version` on `dataset` (the stored one when it is already there; `searched`:
        the caller has just looked and found none)."""
        found = [] if searched else self.evaluations([version], fingerprint=dataset.fingerprint)
        if found:
            return found[0]
        tags = {"model_version": version, "task": str(evaluation.task), **dataset.tags()}
        run_id = self._create("evaluation", f"v{version} on {dataset.name}", tags)
        metrics = evaluation_metrics(evaluation)
        self._finish(run_id, metrics, evaluation_document(evaluation), EVALUATION_FILE)
        return StoredEvaluation(version, dataset, str(evaluation.task), metrics, run_id)

    def evaluations(
        self,
        versions: Iterable[str] | None = None,
        *,
        dataset: str | None = None,
        fingerprint: str | None = None,
    ) -> list[StoredEvaluation]:
        """Stored evaluations, newest first; `dataset` matches a dataset's name or fingerprint prefix."""
        wanted = None if versions is None else {str(v) for v in versions}
        tags = {"dataset_fingerprint": fingerprint} if fingerprint else {}
        if wanted is not None and len(wanted) == 1:
            tags["model_version"] = next(iter(wanted))
        out = []
        for run in self._search("evaluation", **tags):
            run_tags = run.data.tags
            version = run_tags.get("model_version", "")
            info = DatasetInfo.from_tags(run_tags)
            if wanted is not None and version not in wanted:
                continue
            if dataset and not (info.name == dataset or info.fingerprint.startswith(dataset)):
                continue
            at = datetime.fromtimestamp(run.info.start_time / 1000).astimezone()
            out.append(
                StoredEvaluation(
                    version, info, run_tags.get("task", ""), dict(run.data.metrics), run.info.run_id, at
                )
            )
        return out

    # --- cohorts -----------------------------------------------------------------------------------
    def save_cohort(self, dataset: Dataset) -> DatasetInfo:
        """Keep a labelled cohort's rows (once per fingerprint) so later versions meet the same rows."""
        info = dataset.info
        if any(c.fingerprint == info.fingerprint for c in self.cohorts()):
            return info
        run_id = self._create("dataset", dataset.name, info.tags())
        with tempfile.TemporaryDirectory(prefix="steelthread-cohort-") as tmp:
            path = Path(tmp) / COHORT_FILE
            dataset.frame.to_parquet(path, index=False)
            with self.registry.call("writing a cohort to the evaluation store"):
                self.registry.client.log_artifact(run_id, str(path))
        self._finish(run_id, {"rows": float(info.rows)}, None, "")
        return info

    def cohorts(self) -> list[DatasetInfo]:
        """Stored labelled cohorts, the newest (latest end of its time range) first."""
        infos = [DatasetInfo.from_tags(run.data.tags) for run in self._search("dataset")]
        return sorted(infos, key=lambda i: (i.end is not None, i.end or datetime.min), reverse=True)

    def _cohort_run(self, fingerprint: str) -> Any:
        runs = self._search("dataset", dataset_fingerprint=fingerprint)
        if not runs:
            raise CorruptArtifactError(f"the evaluation store has no cohort {fingerprint[:12]}")
        return runs[0]

    def load_cohort(self, info: DatasetInfo) -> Dataset:
        """The rows of a stored cohort, checked against its fingerprint."""
        run = self._cohort_run(info.fingerprint)
        with tempfile.TemporaryDirectory(prefix="steelthread-cohort-") as tmp:
            path = self.registry.download(run.info.run_id, COHORT_FILE, Path(tmp))
            frame = pd.read_parquet(path)
        dataset = Dataset(info.name, "cohort", frame, info.start, info.end)
        if dataset.info.fingerprint != info.fingerprint:
            raise CorruptArtifactError(
                f"cohort {info.name} in the evaluation store does not match its fingerprint"
            )
        return dataset

    # --- paired verdicts ---------------------------------------------------------------------------
    def record_verdict(self, document: dict[str, Any], metrics: Mapping[str, float]) -> str:
        """Store a paired verdict (`PairedVerdict.document()`), tagged for the query by version pair."""
        tags = {
            "champion_version": str(document["champion"]),
            "challenger_version": str(document["challenger"]),
            "verdict": str(document["verdict"]),
        }
        name = f"v{document['challenger']} vs v{document['champion']} (paired)"
        run_id = self._create("paired", name, tags)
        self._finish(run_id, _finite(metrics), document, "verdict.json")
        return run_id

    def verdicts(self, challenger: str | None = None) -> list[StoredVerdict]:
        """Stored paired verdicts, newest first (of one challenger when given)."""
        tags = {"challenger_version": challenger} if challenger else {}
        return [
            StoredVerdict(
                run.data.tags.get("champion_version", ""),
                run.data.tags.get("challenger_version", ""),
                run.data.tags.get("verdict", ""),
                run.info.run_id,
                {k: v for k, v in run.data.metrics.items()},
            )
            for run in self._search("paired", **tags)
        ]
