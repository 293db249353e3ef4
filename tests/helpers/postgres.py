"""PostgreSQL for tests: a throwaway database on the shared server, and a throwaway server to stop and start.

The shared server (127.0.0.1:5432, or STEELTHREAD_TEST_POSTGRES_ADMIN_DSN) must answer: a test that needs it
fails when it does not, never skips. A test that takes the database away (an outage, a restart) gets a
server of its own (`ThrowawayPostgres`: initdb + pg_ctl in a temporary folder on a free port, trust
authentication; as root the binaries run as the `postgres` user, since initdb refuses root), which it may
stop, restart or freeze. A missing binary is a failure that says so, never a skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from helpers.serving import free_port

ADMIN_DSN = os.environ.get(
    "STEELTHREAD_TEST_POSTGRES_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def with_database(dsn: str, database: str) -> str:
    return dsn.rsplit("/", 1)[0] + f"/{database}"


@contextmanager
def throwaway_database(prefix: str, admin_dsn: str = ADMIN_DSN) -> Iterator[str]:
    """A new database on the shared server, dropped afterwards: its DSN."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required for this test and is not reachable at {admin_dsn}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield with_database(admin_dsn, name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


BIN = Path(os.environ.get("STEELTHREAD_TEST_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))


@dataclass
class ThrowawayPostgres:
    """One cluster: `start`, `stop` (pg_ctl stop, fast), `freeze`/`thaw` (SIGSTOP/SIGCONT every server
    process, a database that accepts connections and never answers) and `create_database`."""

    root: Path
    port: int
    _as_user: list[str] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def admin_dsn(self) -> str:
        return self.dsn()

    def _run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            [*self._as_user, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {result.returncode}: {result.stderr[-2000:]}")

    def init(self) -> None:
        for name in ("initdb", "pg_ctl"):
            if not (BIN / name).exists():
                raise AssertionError(f"{BIN / name} is required for this test and is missing")
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync",
            "-E", "UTF8", "--locale=C",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off"
        self._run(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"),
            "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        """A real stop (pg_ctl stop -m fast): open sessions are ended, new connections are refused."""
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def _pids(self) -> list[int]:
        postmaster = int((self.data / "postmaster.pid").read_text().splitlines()[0])
        children = subprocess.run(
            ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
        ).stdout.split()
        return [postmaster, *(int(pid) for pid in children)]

    def freeze(self) -> None:
        """SIGSTOP the postmaster and every backend: connections are accepted by the kernel, nothing answers."""
        for pid in self._pids():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._pids():
            os.kill(pid, signal.SIGCONT)

    def create_database(self, name: str, template: str | None = None) -> str:
        import psycopg

        clause = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(self.dsn(), autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{name}"{clause}')
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        """Drop a database (its dirty buffers go with it instead of into the shutdown checkpoint)."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A started cluster, stopped and deleted afterwards (thawed first if a test left it frozen)."""
    root = Path(tempfile.mkdtemp(prefix="steelthread-pg-"))
    server = ThrowawayPostgres(root=root, port=free_port())
    try:
        server.init()
        server.start()
        yield server
    finally:
        if server.running():
            with suppress(OSError, ValueError, IndexError):
                server.thaw()
            deadline = time.monotonic() + 30
            while server.running() and time.monotonic() < deadline:
                try:
                    server.stop()
                except AssertionError:
                    time.sleep(0.5)
        shutil.rmtree(root, ignore_errors=True)
