"""The production registry shape: MLflow with a PostgreSQL backend store (the real server on 5432).

A throwaway database is created for the session and dropped afterwards. PostgreSQL not answering is a
failure with a message saying so, never a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from steelthread_training.config import load_config
from steelthread_training.errors import RegistryError
from steelthread_training.promotion import promote, register_challenger
from steelthread_training.run_log import log_and_register
from steelthread_training.settings import DEFAULT_MODEL_NAME
from steelthread_training.tracking import Registry, normalise_uri
from steelthread_training.validation import validate_frame

pytestmark = [
    pytest.mark.slow,
    pytest.mark.services,
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
]
# Why the filters: see test_training_pipeline.py (both come from inside MLflow 3.17, not from this code).

ADMIN_DSN = os.environ.get(
    "STEELTHREAD_TEST_POSTGRES_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="module")
def postgres_uri() -> Iterator[str]:
    import psycopg

    name = f"steelthread_mlflow_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required for this test and is not reachable at {ADMIN_DSN}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_registry_round_trip_on_postgresql(trained, settings_for, postgres_uri: str, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, mlflow_tracking_uri=postgres_uri)
    registry = Registry(settings)
    assert registry.uri.startswith("postgresql+psycopg://")
    candidate = trained.outcome.candidate
    reg = log_and_register(
        registry,
        candidate,
        config=load_config(),
        seed=0,
        tags={"data_fingerprint": trained.outcome.fingerprint},
        validation=validate_frame(trained.world.training_set.frame, load_config().validation),
        workdir=tmp_path / "work",
    )
    assert reg.version == "1"
    register_challenger(registry, settings, reg.version, "postgres round trip")
    move = promote(registry, settings, reg.version, "staging", "postgres round trip")
    assert move.path == settings.models_dir / "versions" / "1"
    again = Registry(settings)  # a second process would see the same state
    assert again.alias_version("staging") == "1"
    assert again.gate_verdict("1")["passed"] is True
    run = again.client.get_run(reg.run_id)
    assert run.data.tags["data_fingerprint"] == trained.outcome.fingerprint

    import psycopg

    with psycopg.connect(postgres_uri) as connection:
        rows = connection.execute("select name, version from model_versions").fetchall()
    assert rows == [(DEFAULT_MODEL_NAME, 1)]


def test_an_unreachable_backend_store_is_one_clear_error(settings_for, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, mlflow_tracking_uri="postgresql://postgres@127.0.0.1:1/none")
    with pytest.raises(
        RegistryError,
        match=r"MLflow backend store postgresql\+psycopg://postgres@127.0.0.1:1/none is unreachable",
    ):
        Registry(settings)


def test_postgres_urls_use_the_installed_driver() -> None:
    assert normalise_uri("postgresql://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"
    assert normalise_uri("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_uri("sqlite:///x.db") == "sqlite:///x.db"
