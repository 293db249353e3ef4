"""Promotion is crash-consistent: the database stopped or frozen at any step of a move leaves a state that
is consistent, or that `steelthread-promote status` reports and `repair` finishes; never a deployment
pointer ahead of the registry and the audit log.

A throwaway PostgreSQL cluster (its own port and folder) is the MLflow backend store, so the server can
really be stopped (`pg_ctl stop`) and frozen (SIGSTOP). One base database holds v1 (champion) and v2
(staging); every case starts from a copy of it (CREATE DATABASE ... TEMPLATE) with its own packages and
audit log. The fault is injected at the registry's single call seam (`Registry.call`, which every
database access goes through): before the k-th call of a move the server is stopped, then the call runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers.postgres import ThrowawayPostgres, throwaway_postgres
from steelthread_training import cli_audit, cli_promote
from steelthread_training.errors import RegistryError
from steelthread_training.package import read_pointer
from steelthread_training.promotion import promote, register_challenger, rollback
from steelthread_training.settings import TrainingSettings
from steelthread_training.tracking import Registry

pytestmark = [
    pytest.mark.slow,
    pytest.mark.services,
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
]
# Why the filters: see test_training_pipeline.py (both come from inside MLflow 3.17, not from this code).

PROMOTE = "steelthread-promote"
# The registry calls of `promote --version 2 --to champion`, in order (run ids elided). A new call in the
# promotion makes this test fail until it is listed, so every call gets its own fault case.
PROMOTE_CALLS = [
    "reading version 2",
    "reading alias staging",
    "reading version 2",  # gate verdict
    "reading run *",
    "reading alias champion",
    "reading version 2",  # the evaluation store's check: both packages and the test set's time range
    "reading run *",
    "reading version 1",
    "reading run *",
    "reading run *",
    "searching the evaluation store",  # stored cohorts (the experiment is read inside the search)
    "reading the evaluation store",
    "searching the evaluation store",  # stored evaluations on the candidate's test set
    "writing to the evaluation store",  # two evaluations, each a run created, then its metrics
    "writing to the evaluation store",
    "writing to the evaluation store",
    "writing to the evaluation store",
    "reading version 2",  # publish
    "reading run *",
    "moving alias champion to version 2",
    "removing alias staging",
]
JOURNAL_OPEN_AT = PROMOTE_CALLS.index("moving alias champion to version 2")
ROLLBACK_CALLS = [
    "reading alias champion",
    "reading version 1",
    "reading version 1",  # publish
    "reading run *",
    "moving alias champion to version 1",
]
REGISTER_CALLS = [
    "reading version 3",  # gate verdict
    "reading run *",
    "reading alias challenger",
    "reading version 3",
    "reading version 3",  # publish
    "reading run *",
    "moving alias challenger to version 3",
]


@dataclass
class Base:
    server: ThrowawayPostgres
    root: Path
    database: str


@dataclass
class Case:
    server: ThrowawayPostgres
    root: Path
    uri: str
    settings: TrainingSettings

    @property
    def env(self) -> dict[str, str]:
        return {
            "STEELTHREAD_DATA_DIR": str(self.root),
            "STEELTHREAD_MLFLOW_TRACKING_URI": self.uri,
            "STEELTHREAD_ACTOR": "pytest",
            "STEELTHREAD_REGISTRY_TIMEOUT_S": str(self.settings.registry_timeout_s),
        }

    def cli(self, app: object, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, list(args), env=self.env)  # type: ignore[arg-type]
        return result.exit_code, result.output

    def state(self) -> tuple[str | None, str | None, str | None]:
        """The champion as the registry, the deployment pointer and `steelthread-audit` name it."""
        registry = Registry(self.settings).alias_version("champion")
        pointer = read_pointer(self.settings.models_dir, "champion")
        code, out = self.cli(cli_audit.app)
        audit = re.search(r"version (\S+) of", out).group(1) if code == 0 else None  # type: ignore[union-attr]
        return registry, pointer, audit


@pytest.fixture(scope="module")
def base(trained, settings_for, register_version, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Base]:
    """v1 champion, v2 staging, both passing their gate; v3 registered but not yet challenger."""
    root = tmp_path_factory.mktemp("faults-base")
    with throwaway_postgres() as server:
        uri = server.create_database("base")
        settings = settings_for(root, mlflow_tracking_uri=uri)
        registry = Registry(settings)
        good = trained.outcome.candidate
        for version in ("1", "2", "3"):
            assert register_version(registry, good, root / f"w{version}") == version
        for version, last in (("1", "champion"), ("2", "staging")):
            register_challenger(registry, settings, version, f"v{version} passed")
            promote(registry, settings, version, "staging", f"v{version} to staging")
            if last == "champion":
                promote(registry, settings, version, "champion", f"v{version} ships")
        yield Base(server=server, root=root, database="base")


@pytest.fixture
def case(base: Base, settings_for, tmp_path: Path) -> Iterator[Case]:
    """A copy of the base state: its own database, packages and audit log (artifacts are shared, read-only)."""
    name = f"case_{uuid.uuid4().hex[:10]}"
    uri = base.server.create_database(name, template=base.database)
    for folder in ("models", "audit"):
        shutil.copytree(base.root / folder, tmp_path / folder)
    settings = settings_for(tmp_path, mlflow_tracking_uri=uri, registry_timeout_s=3.0)
    yield Case(server=base.server, root=tmp_path, uri=uri, settings=settings)
    if not base.server.running():
        base.server.start()
    base.server.drop_database(name)


@contextmanager
def calls_recorded() -> Iterator[list[str]]:
    """Every registry call's description, in order, with run ids elided."""
    seen: list[str] = []
    original = Registry.call

    def recording(self: Registry, what: str) -> AbstractContextManager[None]:
        seen.append(re.sub(r"run \w{32}", "run *", what))
        return original(self, what)

    Registry.call = recording  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        Registry.call = original  # type: ignore[method-assign]


@contextmanager
def fault_before_call(k: int, fault: Callable[[], None]) -> Iterator[None]:
    """Run `fault` (stop or freeze the real server) just before the k-th registry call, then make the call."""
    count = 0
    original = Registry.call

    def faulty(self: Registry, what: str) -> AbstractContextManager[None]:
        nonlocal count
        if count == k:
            fault()
        count += 1
        return original(self, what)

    Registry.call = faulty  # type: ignore[method-assign]
    try:
        yield
    finally:
        Registry.call = original  # type: ignore[method-assign]


def restart(case: Case) -> None:
    if not case.server.running():
        case.server.start()


def _status(case: Case) -> tuple[int, str]:
    return case.cli(cli_promote.app, "status")


def assert_consistent(case: Case, champion: str, challenger: str | None = None) -> None:
    code, out = _status(case)
    assert code == 0, out
    assert f"champion: registry {champion}, published {champion}, audit log {champion}" in out
    c = challenger or "-"
    assert f"challenger: registry {c}, published {c}, audit log {c}" in out
    assert "half done" not in out
    assert case.state() == (champion, champion, champion)


def assert_never_ahead(case: Case) -> None:
    """Serving follows the pointer: whatever it names, the registry and the audit log named it first."""
    registry, pointer, audit = case.state()
    assert pointer in {"1", "2"}
    if pointer == "2":
        assert registry == audit == "2"


def test_the_promotion_makes_exactly_the_listed_registry_calls(case: Case) -> None:
    registry = Registry(case.settings)
    with calls_recorded() as seen:
        promote(registry, case.settings, "2", "champion", "v2 ships")
    assert seen == PROMOTE_CALLS
    assert_consistent(case, "2")
    with calls_recorded() as seen:
        rollback(registry, case.settings, "v2 misbehaves")
    assert seen == ROLLBACK_CALLS
    with calls_recorded() as seen:
        register_challenger(registry, case.settings, "3", "v3 passed")
    assert seen == REGISTER_CALLS
    assert_consistent(case, "1", challenger="3")


def test_not_found_is_an_answer_and_a_stopped_database_is_an_error(case: Case) -> None:
    """A dead database must never read as "no version holds the alias" or "alias already removed"."""
    registry = Registry(case.settings)
    assert registry.alias_version("challenger") is None
    registry.delete_alias("challenger")  # nobody holds it: nothing to do
    with pytest.raises(RegistryError, match="has no version 99"):
        registry.set_alias("champion", "99")
    case.server.stop()
    try:
        for name, call in (
            ("reading alias challenger", lambda: registry.alias_version("challenger")),
            ("removing alias challenger", lambda: registry.delete_alias("challenger")),
            ("reading version 2", lambda: registry.version("2")),
        ):
            with pytest.raises(RegistryError, match=f"failed {name}: "):
                call()
    finally:
        restart(case)


@pytest.mark.parametrize("k", range(len(PROMOTE_CALLS) + 1), ids=lambda k: f"stop-before-call-{k}")
def test_postgres_stopped_at_each_step_of_a_promotion_is_consistent_or_repaired(case: Case, k: int) -> None:
    registry = Registry(case.settings)
    with fault_before_call(k, case.server.stop):
        if k < len(PROMOTE_CALLS):
            with pytest.raises(
                RegistryError, match=r"^MLflow at postgresql\+psycopg://\S+ failed "
            ) as failed:
                promote(registry, case.settings, "2", "champion", "v2 ships")
            assert "\n" not in str(failed.value)
        else:  # stopped after the last registry call: the rest needs no database
            promote(registry, case.settings, "2", "champion", "v2 ships")
        if case.server.running():  # no call left to stop before: the database goes down afterwards
            case.server.stop()

    journal_open = JOURNAL_OPEN_AT <= k < len(PROMOTE_CALLS)
    code, out = _status(case)  # database still down: the journal is local, the registry is not
    assert code == 5, out
    assert ("half done: promote of version 2 (staging -> champion)" in out) is journal_open
    assert out.strip().splitlines()[-1].startswith("error: MLflow backend store postgresql+psycopg://")

    restart(case)
    assert_never_ahead(case)
    code, out = _status(case)
    if journal_open:
        assert code == 9, out
        assert "a move is half done: promote of version 2" in out
        assert "run `steelthread-promote repair`" in out
    else:
        assert code == 0, out

    code, out = case.cli(cli_promote.app, "repair")
    assert code == 0, out
    if journal_open:
        assert "finished the half-done promote of version 2 (staging -> champion)" in out
    else:
        assert "nothing to repair" in out
    again = case.cli(cli_promote.app, "repair")
    assert again == (0, "nothing to repair: registry, deployment pointers and audit log agree\n")

    finished = journal_open or k == len(PROMOTE_CALLS)
    assert_consistent(case, "2" if finished else "1")
    if not finished:  # nothing had changed: the same promotion simply runs again
        code, out = case.cli(
            cli_promote.app, "promote", "--version", "2", "--to", "champion", "--reason", "v2 ships"
        )
        assert code == 0, out
        assert_consistent(case, "2")
    code, out = case.cli(cli_promote.app, "rollback", "--reason", "after the fault")
    assert code == 0, out
    assert "champion rolled back from version 2 to version 1" in out
    assert_consistent(case, "1")


@pytest.mark.parametrize("k", range(len(ROLLBACK_CALLS)), ids=lambda k: f"stop-before-call-{k}")
def test_postgres_stopped_at_each_step_of_a_rollback_then_the_retry_finishes_it(case: Case, k: int) -> None:
    registry = Registry(case.settings)
    promote(registry, case.settings, "2", "champion", "v2 ships")
    with fault_before_call(k, case.server.stop), pytest.raises(RegistryError):
        rollback(registry, case.settings, "v2 misbehaves")
    restart(case)
    assert_never_ahead(case)
    # The operator retries the rollback: it finishes the half-done one, and does not go back further.
    code, out = case.cli(cli_promote.app, "rollback", "--reason", "v2 misbehaves")
    assert code == 0, out
    assert "champion rolled back from version 2 to version 1" in out
    assert ("finished the half-done rollback of version 1" in out) is (k == len(ROLLBACK_CALLS) - 1)
    assert_consistent(case, "1")
    code, out = case.cli(cli_promote.app, "rollback", "--reason", "once more")
    assert code == 6, out
    assert "no previous champion" in out


@pytest.mark.parametrize("k", range(len(REGISTER_CALLS)), ids=lambda k: f"stop-before-call-{k}")
def test_postgres_stopped_at_each_step_of_a_registration_then_the_next_move_finishes_it(
    case: Case, k: int
) -> None:
    registry = Registry(case.settings)
    with fault_before_call(k, case.server.stop), pytest.raises(RegistryError):
        register_challenger(registry, case.settings, "3", "v3 passed")
    restart(case)
    models_dir = case.settings.models_dir
    assert read_pointer(models_dir, "challenger") is None  # the pointer comes last
    # The next move of any kind finishes the half-done registration first.
    code, out = case.cli(
        cli_promote.app, "promote", "--version", "2", "--to", "champion", "--reason", "v2 ships"
    )
    assert code == 0, out
    half_done = k == len(REGISTER_CALLS) - 1
    assert ("finished the half-done register of version 3" in out) is half_done
    assert_consistent(case, "2", challenger="3" if half_done else None)


def test_a_frozen_database_mid_promotion_ends_within_the_timeout_and_repair_finishes(case: Case) -> None:
    registry = Registry(case.settings)
    started = time.monotonic()
    try:
        with fault_before_call(JOURNAL_OPEN_AT, case.server.freeze), pytest.raises(RegistryError) as failed:
            promote(registry, case.settings, "2", "champion", "v2 ships")
        elapsed = time.monotonic() - started
    finally:
        case.server.thaw()
    timeout = case.settings.registry_timeout_s
    assert elapsed < 3 * timeout + 5, elapsed
    assert "failed moving alias champion to version 2: " in str(failed.value)
    assert "timeout" in str(failed.value)
    code, out = _status(case)
    assert code == 9, out
    code, out = case.cli(cli_promote.app, "repair")
    assert code == 0, out
    assert_consistent(case, "2")


def _promote_process(case: Case, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    binary = Path(sys.executable).parent / PROMOTE
    started = time.monotonic()
    result = subprocess.run(
        [str(binary), "promote", "--version", "2", "--to", "champion", "--reason", "v2 ships"],
        env={**os.environ, **case.env, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result, time.monotonic() - started


def test_a_frozen_database_ends_the_promote_process_with_one_line(case: Case) -> None:
    case.server.freeze()
    try:
        result, elapsed = _promote_process(case, STEELTHREAD_REGISTRY_TIMEOUT_S="2")
    finally:
        case.server.thaw()
    assert result.returncode == 5, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: MLflow backend store postgresql+psycopg://")
    assert "timeout" in result.stderr
    assert elapsed < 150, elapsed  # start-up (imports) dominates, and varies with load; a hang would not end
    assert_consistent(case, "1")


def test_the_command_deadline_ends_a_promote_stuck_past_every_call_timeout(case: Case) -> None:
    """A hang no call timeout catches (here: a connect timeout longer than the command's deadline)."""
    case.server.freeze()
    try:
        result, elapsed = _promote_process(
            case, STEELTHREAD_REGISTRY_TIMEOUT_S="90", STEELTHREAD_COMMAND_TIMEOUT_S="2"
        )
    finally:
        case.server.thaw()
    assert result.returncode == 5, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: steelthread-promote promote did not finish within 2s")
    assert elapsed < 150, elapsed
    assert_consistent(case, "1")


def test_a_stopped_database_is_one_line_from_the_real_process(case: Case) -> None:
    case.server.stop()
    try:
        result, _ = _promote_process(case)
    finally:
        restart(case)
    assert result.returncode == 5, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "is unreachable" in result.stderr
