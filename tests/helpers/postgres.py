"""PostgreSQL for tests: a throwaway database on the shared server, and a throwaway server to stop and start.

The shared server (127.0.0.1:5432, or STEELTHREAD_TEST_POSTGRES_ADMIN_DSN) must answer: a test that needs it
fails when it does not, never skips. A test that takes the database away (an outage, a restart) gets a
server of its own, `initdb` in a temporary folder on a free port, so no other test sees the outage.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


def _bin_dir() -> Path:
    """Where initdb and pg_ctl live: STEELTHREAD_TEST_PG_BIN, PATH, or the newest Debian/Ubuntu install."""
    configured = os.environ.get("STEELTHREAD_TEST_PG_BIN")
    if configured:
        return Path(configured)
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    installed = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if not installed:
        pytest.fail(
            "initdb/pg_ctl not found: install PostgreSQL's server package or set STEELTHREAD_TEST_PG_BIN"
        )
    return Path(installed[-1]).parent


@dataclass
class ThrowawayServer:
    """A PostgreSQL server of this test's own (trust authentication, user postgres)."""

    bin_dir: Path
    data: Path
    port: int

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        # initdb and the server refuse to run as root: a root test run (a container) runs them as postgres.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c fsync=off"
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data / "db"),
            "-o",
            options,
            "-w",
            "start",
            "-l",
            str(self.data / "server.log"),
        )

    def stop(self) -> None:
        """A fast shutdown: open connections are closed at once, as in a failover or a restart."""
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data / "db"), "-m", "fast", "-w", "stop")


@contextmanager
def throwaway_server() -> Iterator[ThrowawayServer]:
    """`initdb` in a temporary folder, started on a free port; stopped and removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="steelthread-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    server = ThrowawayServer(_bin_dir(), root, free_port())
    try:
        server._run(
            str(server.bin_dir / "initdb"),
            "-D",
            str(root / "db"),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
        )
        server.start()
        yield server
    finally:
        with_stop = (root / "db" / "postmaster.pid").exists()
        if with_stop:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
