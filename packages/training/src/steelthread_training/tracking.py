"""MLflow: where runs, artifacts and registered versions live.

Only the training CLIs import this module (and mlflow); serving reads published packages instead. Local
default: a SQLite backend and file artifacts under `<data_dir>/mlflow`; production: an MLflow server (or
a PostgreSQL backend store directly) named by STEELTHREAD_MLFLOW_TRACKING_URI.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from steelthread_training.errors import CorruptArtifactError, RegistryError
from steelthread_training.gate import read_verdict
from steelthread_training.settings import TrainingSettings

GATE_ARTIFACT = "gate.json"
PACKAGE_ARTIFACT = "package"
_QUIET = ("mlflow", "alembic", "sqlalchemy", "urllib3", "git", "matplotlib")


def normalise_uri(uri: str) -> str:
    """`postgresql://` uses psycopg 3 when psycopg2 is not installed (it is not in this workspace)."""
    parts = urlsplit(uri)
    if parts.scheme in {"postgresql", "postgres"} and importlib.util.find_spec("psycopg2") is None:
        return urlunsplit(("postgresql+psycopg", *parts[1:]))
    return uri


def redact(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit((parts.scheme, netloc, *parts[2:]))
    return uri


def _check_reachable(uri: str) -> None:
    scheme = urlsplit(uri).scheme
    if scheme.startswith("sqlite"):
        path = Path(urlsplit(uri).path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    if scheme.startswith(("postgresql", "mysql", "mssql")):
        import sqlalchemy

        engine = sqlalchemy.create_engine(
            uri, connect_args={"connect_timeout": 5}, poolclass=sqlalchemy.NullPool
        )
        try:
            with engine.connect() as connection:
                connection.execute(sqlalchemy.text("select 1"))
        except Exception as exc:  # the driver's own error types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RegistryError(f"MLflow backend store {redact(uri)} is unreachable: {first}") from None
        finally:
            engine.dispose()


@contextmanager
def quiet() -> Iterator[None]:
    """MLflow, alembic and friends log migrations and progress bars at INFO: keep the CLI readable."""
    previous = {name: logging.getLogger(name).level for name in _QUIET}
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)


class Registry:
    """The tracking server and model registry for one settings object."""

    def __init__(self, settings: TrainingSettings) -> None:
        import os

        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("MLFLOW_TRACKING_DISABLE_TELEMETRY", "true")
        import mlflow
        from mlflow import MlflowClient

        self.settings = settings
        self.uri = normalise_uri(settings.resolved_tracking_uri())
        _check_reachable(self.uri)
        self.model_name = settings.model_name
        with quiet():
            mlflow.set_tracking_uri(self.uri)
            mlflow.set_registry_uri(self.uri)
            try:
                self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
            except Exception as exc:
                raise RegistryError(f"cannot open MLflow at {redact(self.uri)}: {exc}") from None

    def experiment_id(self) -> str:
        with quiet():
            experiment = self.client.get_experiment_by_name(self.settings.experiment_name)
            if experiment is not None:
                return str(experiment.experiment_id)
            location = None if self.uri.startswith("http") else self.settings.resolved_artifacts_uri()
            return str(
                self.client.create_experiment(self.settings.experiment_name, artifact_location=location)
            )

    def register(self, source: str, run_id: str, model_id: str | None, tags: dict[str, str]) -> str:
        """Create the registered model when needed and a new version from a logged model."""
        from mlflow.exceptions import MlflowException

        with quiet():
            try:
                self.client.get_registered_model(self.model_name)
            except MlflowException:
                self.client.create_registered_model(
                    self.model_name, description=f"steelthread {self.model_name} model (ONNX)."
                )
            created = self.client.create_model_version(
                self.model_name, source=source, run_id=run_id, tags=tags, model_id=model_id
            )
        return str(created.version)

    # --- versions and aliases -------------------------------------------------------------------
    def version(self, version: str) -> Any:
        from mlflow.exceptions import MlflowException

        with quiet():
            try:
                return self.client.get_model_version(self.model_name, version)
            except MlflowException:
                raise RegistryError(f"model {self.model_name!r} has no version {version}") from None

    def alias_version(self, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        with quiet():
            try:
                return str(self.client.get_model_version_by_alias(self.model_name, alias).version)
            except MlflowException:
                return None

    def aliases(self, version: str) -> list[str]:
        return list(self.version(version).aliases)

    def set_alias(self, alias: str, version: str) -> None:
        with quiet():
            self.client.set_registered_model_alias(self.model_name, alias, version)

    def delete_alias(self, alias: str) -> None:
        from mlflow.exceptions import MlflowException

        with quiet(), contextlib.suppress(MlflowException):
            self.client.delete_registered_model_alias(self.model_name, alias)

    # --- artifacts ----------------------------------------------------------------------------
    def download(self, run_id: str, artifact: str, dst: Path) -> Path:
        import mlflow

        with quiet():
            try:
                local = mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=artifact, dst_path=str(dst), tracking_uri=self.uri
                )
            except Exception as exc:  # MlflowException or OSError from the artifact repository
                detail = " ".join(str(exc).split())[:200]
                raise CorruptArtifactError(
                    f"artifact {artifact!r} of run {run_id} cannot be read: {detail}"
                ) from None
        return Path(local)

    def gate_verdict(self, version: str) -> dict[str, Any]:
        run_id = str(self.version(version).run_id)
        with tempfile.TemporaryDirectory(prefix="steelthread-gate-") as tmp:
            path = self.download(run_id, GATE_ARTIFACT, Path(tmp))
            try:
                text = path.read_text()
            except OSError as exc:
                raise CorruptArtifactError(
                    f"gate verdict of version {version} is unreadable: {exc}"
                ) from None
        return read_verdict(text, f"of version {version} (run {run_id})")
