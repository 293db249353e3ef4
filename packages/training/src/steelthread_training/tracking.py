"""MLflow: where runs, artifacts and registered versions live.

Only the training CLIs import this module (and mlflow); serving reads published packages instead. Local
default: a SQLite backend and file artifacts under `<data_dir>/mlflow`; production: an MLflow server (or
a PostgreSQL backend store directly) named by STEELTHREAD_MLFLOW_TRACKING_URI.

Every call is bounded (`registry_timeout_s`): a PostgreSQL store gets libpq's `connect_timeout` and a
server-side `statement_timeout` in its URI and a fresh connection per call (MLflow's NullPool), so a
database that went away or hangs after a call is never waited on through a pooled connection; an MLflow
server gets MLflow's own HTTP timeout and a short retry budget. Every failure of the store is one
`RegistryError` line; "not found" answers stay answers (None, or "no version N").
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from steelthread_training.errors import CorruptArtifactError, RegistryError
from steelthread_training.gate import read_verdict
from steelthread_training.settings import TrainingSettings

GATE_ARTIFACT = "gate.json"
PACKAGE_ARTIFACT = "package"
_QUIET = ("mlflow", "alembic", "sqlalchemy", "urllib3", "git", "matplotlib", "psycopg")
NOT_FOUND: Final = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})
"""MLflow's error codes for "no such model, version or alias" (and a malformed version number)."""
HTTP_MAX_RETRIES: Final = "2"
EXPERIMENT_TAGS: Final = {
    # MLflow 3's UI opens an experiment by its kind: model training runs, not the GenAI traces view.
    "mlflow.experimentKind": "custom_model_development",
    "mlflow.note.content": (
        "steelthread training runs (`steelthread-train run`; `--tune` trials are their child runs) and "
        "staleness backtests (`steelthread-train backtest`, tag steelthread.run_kind=backtest)."
    ),
}
DESCRIPTION_LIMIT: Final = 5_000
"""MLflow stores a model version's description in a 5,000-character column."""


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


def display(uri: str) -> str:
    """The URI for an error line: password hidden, query (timeouts, options) left out."""
    parts = urlsplit(redact(uri))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def with_timeouts(uri: str, seconds: float) -> str:
    """A PostgreSQL URI with libpq's `connect_timeout` and a `statement_timeout`, unless the URI sets them.

    psycopg reads both from the URL query (SQLAlchemy passes it through); libpq's floor is 2 seconds.
    """
    parts = urlsplit(uri)
    if not parts.scheme.startswith(("postgresql", "postgres")):
        return uri
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.setdefault("connect_timeout", str(max(2, math.ceil(seconds))))
    options = query.get("options", "")
    if "statement_timeout" not in options:
        query["options"] = f"{options} -c statement_timeout={math.ceil(seconds * 1000)}".strip()
    return urlunsplit((*parts[:3], urlencode(query), parts.fragment))


def _check_reachable(uri: str) -> None:
    """Fail in one line before MLflow's own engine, which retries a dead database for minutes."""
    scheme = urlsplit(uri).scheme
    if scheme.startswith("sqlite"):
        path = Path(urlsplit(uri).path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    if scheme.startswith(("postgresql", "mysql", "mssql")):
        import sqlalchemy

        connect_args = {} if scheme.startswith("postgresql") else {"connect_timeout": 5}
        engine = sqlalchemy.create_engine(uri, connect_args=connect_args, poolclass=sqlalchemy.NullPool)
        try:
            with engine.connect() as connection:
                connection.execute(sqlalchemy.text("select 1"))
        except Exception as exc:  # the driver's own error types
            detail = _first(exc)
            raise RegistryError(f"MLflow backend store {display(uri)} is unreachable: {detail}") from None
        finally:
            engine.dispose()


def fit_description(text: str) -> str:
    """`text` within the registry's description limit; a longer one is cut and points to the full one."""
    if len(text) <= DESCRIPTION_LIMIT:
        return text
    note = "\n\n(cut to fit the registry; the full model card is the run's `model_card.md`)\n"
    return text[: DESCRIPTION_LIMIT - len(note)] + note


def not_found(exc: Exception) -> bool:
    """MLflow's answer "no such model, version or alias" (as opposed to a failing store)."""
    return getattr(exc, "error_code", None) in NOT_FOUND


def _first(exc: BaseException) -> str:
    """The first line of an error (MLflow and SQLAlchemy append SQL, parameters and links below it)."""
    text = str(exc).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(exc).__name__


@contextmanager
def quiet() -> Iterator[None]:
    """MLflow, alembic and friends log migrations and progress bars at INFO, and MLflow logs a full
    traceback at ERROR for a database error it then raises: keep the CLI to the one line it prints."""
    previous = {name: logging.getLogger(name).level for name in _QUIET}
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)


class Registry:
    """The tracking server and model registry for one settings object."""

    def __init__(self, settings: TrainingSettings) -> None:
        timeout = settings.registry_timeout_s
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("MLFLOW_TRACKING_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("MLFLOW_SQLALCHEMYSTORE_POOLCLASS", "NullPool")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(1, math.ceil(timeout))))
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", HTTP_MAX_RETRIES)
        import mlflow
        from mlflow import MlflowClient

        self.settings = settings
        self.uri = with_timeouts(normalise_uri(settings.resolved_tracking_uri()), timeout)
        self.where = display(self.uri)
        _check_reachable(self.uri)
        self.model_name = settings.model_name
        with quiet():
            mlflow.set_tracking_uri(self.uri)
            mlflow.set_registry_uri(self.uri)
            try:
                self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
            except Exception as exc:
                raise RegistryError(f"cannot open MLflow at {self.where}: {_first(exc)}") from None
        # Both stores now, right after the reachability check: MLflow builds each lazily, and building
        # one retries an unreachable database for minutes.
        with self.call("opening the tracking store"):
            self.client.search_experiments(max_results=1)
        with self.call("opening the model registry"):
            self.client.search_registered_models(max_results=1)

    @contextmanager
    def call(self, what: str) -> Iterator[None]:
        """One registry call: quiet, and any failure of the store (down, hung past its timeout, refusing)
        becomes one `RegistryError` line naming the call. MLflow's "not found" errors pass through."""
        from mlflow.exceptions import MlflowException
        from sqlalchemy.exc import SQLAlchemyError

        with quiet():
            try:
                yield
            except MlflowException as exc:
                if not_found(exc):
                    raise
                raise RegistryError(f"MLflow at {self.where} failed {what}: {_first(exc)}") from None
            except (SQLAlchemyError, OSError) as exc:  # raised before MLflow wraps them (store start-up)
                raise RegistryError(f"MLflow at {self.where} failed {what}: {_first(exc)}") from None

    def experiment_id(self) -> str:
        """The experiment's id (created on first use), tagged so that MLflow's UI opens on its runs."""
        with self.call("reading the experiment"):
            experiment = self.client.get_experiment_by_name(self.settings.experiment_name)
            if experiment is None:
                location = None if self.uri.startswith("http") else self.settings.resolved_artifacts_uri()
                experiment_id = str(
                    self.client.create_experiment(
                        self.settings.experiment_name, artifact_location=location, tags=EXPERIMENT_TAGS
                    )
                )
            else:
                experiment_id = str(experiment.experiment_id)
                for key, value in EXPERIMENT_TAGS.items():
                    if experiment.tags.get(key) != value:
                        self.client.set_experiment_tag(experiment_id, key, value)
        return experiment_id

    def register(
        self,
        source: str,
        run_id: str,
        model_id: str | None,
        tags: dict[str, str],
        description: str | None = None,
    ) -> str:
        """Create the registered model when needed and a new version from a logged model; `description`
        (the model card) is what the registry's UI shows on the version."""
        from mlflow.exceptions import MlflowException

        with self.call("registering a version"):
            try:
                self.client.get_registered_model(self.model_name)
            except MlflowException as exc:
                if not not_found(exc):
                    raise
                self.client.create_registered_model(
                    self.model_name, description=f"steelthread {self.model_name} model (ONNX)."
                )
            created = self.client.create_model_version(
                self.model_name,
                source=source,
                run_id=run_id,
                tags=tags,
                model_id=model_id,
                description=fit_description(description) if description else None,
            )
        return str(created.version)

    # --- versions and aliases -------------------------------------------------------------------
    def version(self, version: str) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            with self.call(f"reading version {version}"):
                return self.client.get_model_version(self.model_name, version)
        except MlflowException:  # not found (the store's own failures are RegistryError already)
            raise RegistryError(f"model {self.model_name!r} has no version {version}") from None

    def alias_version(self, alias: str) -> str | None:
        """The version holding `alias`; None when no version does (a store failure is an error, never
        "no version")."""
        from mlflow.exceptions import MlflowException

        try:
            with self.call(f"reading alias {alias}"):
                return str(self.client.get_model_version_by_alias(self.model_name, alias).version)
        except MlflowException:
            return None

    def aliases(self, version: str) -> list[str]:
        return list(self.version(version).aliases)

    def set_alias(self, alias: str, version: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            with self.call(f"moving alias {alias} to version {version}"):
                self.client.set_registered_model_alias(self.model_name, alias, version)
        except MlflowException:  # not found
            raise RegistryError(f"model {self.model_name!r} has no version {version}") from None

    def delete_alias(self, alias: str) -> None:
        """Remove `alias` (an alias or model that does not exist is already removed)."""
        from mlflow.exceptions import MlflowException

        try:
            with self.call(f"removing alias {alias}"):
                self.client.delete_registered_model_alias(self.model_name, alias)
        except MlflowException:
            pass

    # --- artifacts ----------------------------------------------------------------------------
    def download(self, run_id: str, artifact: str, dst: Path) -> Path:
        """An artifact of a run: the run's location comes from the store (a store failure is a
        `RegistryError`), the files from the artifact repository (a failure there is a corrupt artifact)."""
        import mlflow
        from mlflow.exceptions import MlflowException

        try:
            with self.call(f"reading run {run_id}"):
                root = str(self.client.get_run(run_id).info.artifact_uri).rstrip("/")
        except MlflowException:
            raise CorruptArtifactError(f"run {run_id} of artifact {artifact!r} does not exist") from None
        with quiet():
            try:
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=f"{root}/{artifact}", dst_path=str(dst), tracking_uri=self.uri
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
