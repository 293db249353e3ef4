"""The PostgreSQL prediction log under load and faults: answered == stored, no duplicates, nothing dropped.

Real `steelthread-serve` processes write to a real PostgreSQL: a throwaway database on the shared server for
the load and SIGTERM test, and a server of the test's own (tests/helpers/postgres.py) for the outage and
restart tests, since those stop it. Every request carries a client-made request id, so the test knows which
ids were answered (a 200 came back), which were only sent, and checks the tables against them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from helpers.postgres import ThrowawayPostgres, throwaway_database, throwaway_postgres, with_database
from helpers.serving import API_KEY, APPLICATION, free_port, serve_process
from steelthread_contracts import logstore
from steelthread_serving.metrics import ServingMetrics
from steelthread_serving.pgsink import PREDICTIONS, PostgresOptions, PostgresSink
from steelthread_serving.settings import DEFAULT_FLAGS_PATH

pytestmark = [pytest.mark.slow, pytest.mark.services]


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with throwaway_database("steelthread_pglog") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def own_server() -> Iterator[ThrowawayPostgres]:
    with throwaway_postgres() as server:
        yield server


def serve_env(root: Path, dsn: str, **extra: str) -> dict[str, str]:
    flags = root / "flags.json"
    if not flags.exists():
        shutil.copy(DEFAULT_FLAGS_PATH, flags)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")}
    return env | {
        "STEELTHREAD_API_KEYS": API_KEY,
        "STEELTHREAD_DATA_DIR": str(root / "var"),  # one spill folder, shared by every process
        "STEELTHREAD_FLAGS_PATH": str(flags),
        "STEELTHREAD_PREDICTION_LOG_DSN": dsn,
        "STEELTHREAD_PREDICTION_LOG_RETRY_MS": "200",
        "STEELTHREAD_PREDICTION_LOG_TIMEOUT_MS": "2000",
        **extra,
    }


class Load:
    """Client threads posting predictions (and feedback for some answers) until stopped."""

    def __init__(self, urls: list[str], prefix: str, threads_per_url: int = 2) -> None:
        self.urls = urls
        self.prefix = prefix
        self.lock = threading.Lock()
        self.sent: set[str] = set()
        self.answered: set[str] = set()
        self.feedback: set[str] = set()
        self.answers = 0
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._hammer, args=(url, f"{prefix}{i}-{n}"), daemon=True)
            for i, url in enumerate(urls)
            for n in range(threads_per_url)
        ]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def count(self) -> int:
        with self.lock:
            return self.answers

    def wait_for(self, more: int, within: float = 60.0) -> None:
        target = self.count() + more
        deadline = time.monotonic() + within
        while self.count() < target:
            assert time.monotonic() < deadline, f"only {self.count()} of {target} answers"
            time.sleep(0.02)

    def _hammer(self, url: str, name: str) -> None:
        with httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}, timeout=10) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                # every 10th request repeats the id before it: one prediction, stored once
                request_id = f"{name}-{n - 1 if n % 10 == 0 else n}"
                with self.lock:
                    self.sent.add(request_id)
                try:
                    r = client.post("/v1/predictions", json=APPLICATION | {"request_id": request_id})
                except httpx.TransportError:
                    time.sleep(0.05)  # the server is going away (SIGTERM): keep trying until stopped
                    continue
                if r.status_code != 200:
                    continue
                assert r.json()["request_id"] == request_id
                with self.lock:
                    self.answered.add(request_id)
                    self.answers += 1
                if n % 7 == 0:
                    label = {
                        "request_id": request_id,
                        "observed_label": 1,
                        "observed_at": "2026-11-01T10:00:00Z",
                    }
                    try:
                        if client.post("/v1/feedback", json=label).status_code == 202:
                            with self.lock:
                                self.feedback.add(request_id)
                    except httpx.TransportError:
                        continue


def stored(dsn: str) -> tuple[list[str], list[str]]:
    with psycopg.connect(dsn) as conn:
        log = [r[0] for r in conn.execute(f"SELECT request_id FROM {logstore.PREDICTION_TABLE}")]
        feedback = [r[0] for r in conn.execute(f"SELECT request_id FROM {logstore.FEEDBACK_TABLE}")]
    return log, feedback


def sink_counts(url: str) -> dict[tuple[str, str], float]:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return {
        (s.labels["sink"], s.labels["outcome"]): s.value
        for family in text_string_to_metric_families(text)
        if family.name == "steelthread_sink_records"
        for s in family.samples
        if s.name.endswith("_total")
    }


def assert_answered_is_stored(load: Load, dsn: str) -> None:
    log, feedback = stored(dsn)
    assert len(log) == len(set(log)), "a request id stored twice"
    assert set(log) <= load.sent
    assert set(log) == load.answered, (
        f"{len(load.answered - set(log))} answered but not stored, {len(set(log) - load.answered)} stored only"
    )
    assert set(feedback) == load.feedback


def test_several_servers_under_load_then_sigterm_store_every_answer_once(
    tmp_path: Path, database: str
) -> None:
    with ExitStack() as servers:
        urls = [
            servers.enter_context(serve_process(serve_env(tmp_path, database), tmp_path / f"server-{i}.log"))
            for i in range(3)
        ]
        with Load(urls, "a") as load:
            load.wait_for(600)
            counts = [sink_counts(url) for url in urls]
            servers.close()  # SIGTERM to every server while the clients keep sending
            time.sleep(0.3)
    assert load.answers > 600
    assert_answered_is_stored(load, database)
    assert all(c[("predictions", "written")] > 0 for c in counts)
    assert all(c[("predictions", "dropped")] == 0 for c in counts)
    assert not list((tmp_path / "var" / "prediction-log").glob("*.jsonl")), "no JSON-lines log beside the DSN"


def test_database_restart_mid_load_spills_replays_and_loses_nothing(
    tmp_path: Path, own_server: ThrowawayPostgres
) -> None:
    with psycopg.connect(own_server.admin_dsn, autocommit=True) as admin:
        admin.execute("CREATE DATABASE restart")
    dsn = with_database(own_server.admin_dsn, "restart")
    with ExitStack() as servers:
        urls = [
            servers.enter_context(serve_process(serve_env(tmp_path, dsn), tmp_path / f"server-{i}.log"))
            for i in range(2)
        ]
        with Load(urls, "b") as load:
            load.wait_for(200)
            own_server.stop()
            load.wait_for(300)  # answers go on while the database is down
            down = [sink_counts(url) for url in urls]
            own_server.start()
            deadline = time.monotonic() + 60
            while True:  # every spilled record replayed, by each server
                counts = [sink_counts(url) for url in urls]
                if all(
                    c[("predictions", "replayed")] >= d[("predictions", "spilled")]
                    for c, d in zip(counts, down, strict=True)
                ):
                    break
                assert time.monotonic() < deadline, counts
                time.sleep(0.2)
            load.wait_for(200)
            servers.close()
    assert all(d[("predictions", "spilled")] > 0 for d in down), down
    assert all(c[("predictions", "dropped")] == 0 for c in counts)
    assert_answered_is_stored(load, dsn)
    assert not list((tmp_path / "var" / "prediction-log-spill").glob("predictions-*.jsonl"))


def test_sigterm_while_the_database_is_down_spills_and_the_next_process_replays(
    tmp_path: Path, own_server: ThrowawayPostgres
) -> None:
    with psycopg.connect(own_server.admin_dsn, autocommit=True) as admin:
        admin.execute("CREATE DATABASE outage")
    dsn = with_database(own_server.admin_dsn, "outage")
    own_server.stop()
    try:
        with (
            serve_process(
                serve_env(tmp_path, dsn), tmp_path / "down.log"
            ) as url,  # starts without a database
            Load([url], "c") as load,
        ):
            load.wait_for(300)
    finally:
        own_server.start()
    spill = tmp_path / "var" / "prediction-log-spill"
    assert list(spill.glob("predictions-*.jsonl")), "SIGTERM without a database leaves the records spilled"
    assert stored_or_none(dsn) is None  # the tables do not even exist yet
    with serve_process(serve_env(tmp_path, dsn), tmp_path / "next.log") as url:
        deadline = time.monotonic() + 60
        while list(spill.glob("predictions-*.jsonl")) or list(spill.glob("feedback-*.jsonl")):
            assert time.monotonic() < deadline, "the next process did not replay the spill files"
            time.sleep(0.1)
        assert sink_counts(url)[("predictions", "replayed")] >= len(load.answered)
    assert_answered_is_stored(load, dsn)


def stored_or_none(dsn: str) -> int | None:
    with psycopg.connect(dsn) as conn:
        found = conn.execute("SELECT to_regclass(%s)", (logstore.PREDICTION_TABLE,)).fetchone()
    return None if found is None or found[0] is None else 0


def record(request_id: str) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 2,
            "logged_at": datetime.now(UTC),
            "request_id": request_id,
            "entity_key": 7,
            "model_version": "skeleton",
        },
        option=orjson.OPT_UTC_Z,
    )


def options(tmp_path: Path, dsn: str, **extra: object) -> PostgresOptions:
    values: dict[str, object] = {
        "dsn": dsn,
        "spill_dir": tmp_path / "spill",
        "queue_size": 10_000,
        "batch_size": 100,
        "timeout_s": 2.0,
        "retry_s": 0.1,
        "spill_max_bytes": 1 << 20,
    }
    return PostgresOptions(**(values | extra))  # type: ignore[arg-type]


def test_a_full_queue_spills_a_refused_record_is_kept_and_a_replay_never_duplicates(
    tmp_path: Path, database: str
) -> None:
    metrics = ServingMetrics()
    # a generous shutdown: this test is about spilling and replaying, not about a deadline on a busy machine
    sink = PostgresSink(PREDICTIONS, options(tmp_path, database, queue_size=1, shutdown_s=60.0), metrics)
    ids = [f"q-{i}" for i in range(2000)]
    for request_id in ids:  # far faster than one writer: most find the queue full and spill
        sink.append_json(record(request_id))
    sink.append_json(b'{"schema_version": 2, "request_id": "no-time"}')  # the database refuses it
    sink.append_json(record(ids[0]))  # the same request id again
    sink.close()
    # close() replays its own spill while its deadline lasts and the database answers; on a loaded machine
    # some may stay on disk, and the next sink to connect replays them (as the next process would).
    later = ServingMetrics()
    deadline = time.monotonic() + 120
    while list((tmp_path / "spill").glob("predictions-*.jsonl")):  # what a loaded machine left on disk
        assert time.monotonic() < deadline, "spilled records were never replayed"
        PostgresSink(PREDICTIONS, options(tmp_path, database, shutdown_s=60.0), later).close()
    counts = {
        outcome: sum(
            m.registry.get_sample_value(
                "steelthread_sink_records_total", {"sink": "predictions", "outcome": outcome}
            )
            or 0.0
            for m in (metrics, later)
        )
        for outcome in ("written", "spilled", "replayed", "rejected", "dropped")
    }
    log, _ = stored(database)
    assert sorted(i for i in log if i.startswith("q-")) == sorted(ids)
    assert counts["spilled"] > 0
    assert counts["replayed"] > 0
    assert counts["written"] + counts["replayed"] + counts["rejected"] == len(ids) + 2
    assert counts["rejected"] == 1
    assert counts["dropped"] == 0
    rejected = list((tmp_path / "spill").glob("rejected-predictions-*.jsonl"))
    assert [p.read_text() for p in rejected] == ['{"schema_version": 2, "request_id": "no-time"}\n']
    assert not list((tmp_path / "spill").glob("predictions-*.jsonl"))


@pytest.mark.parametrize(("linger_s", "statements"), [(0.0, range(3, 41)), (1.0, range(1, 3))])
def test_the_writer_lingers_so_records_arriving_together_share_a_statement(
    tmp_path: Path, database: str, linger_s: float, statements: range
) -> None:
    """Records put on the queue while the writer lingers join its next statement (rows inserted by one
    statement share its `stored_at`, the transaction's start); without the linger each record that finds
    the writer waiting wakes it for a statement of its own."""
    prefix = f"linger-{linger_s:g}-"
    sink = PostgresSink(PREDICTIONS, options(tmp_path, database, linger_s=linger_s), ServingMetrics())
    for i in range(40):  # 200 ms in all: within one linger, many writer turns without
        sink.append_json(record(f"{prefix}{i}"))
        time.sleep(0.005)
    sink.close()
    with psycopg.connect(database) as conn:
        rows, distinct = conn.execute(
            f"SELECT count(*), count(DISTINCT stored_at) FROM {logstore.PREDICTION_TABLE} "
            "WHERE request_id LIKE %s",
            (f"{prefix}%",),
        ).fetchone() or (0, 0)
    assert rows == 40
    assert distinct in statements


def test_a_dsn_that_is_no_postgresql_url_ends_start_up_with_one_line(tmp_path: Path) -> None:
    env = serve_env(tmp_path, "mysql://somewhere/db")
    result = subprocess.run(
        [sys.executable, "-m", "steelthread_serving.cli", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "error: STEELTHREAD_PREDICTION_LOG_DSN: Value error, must be a postgresql:// URL"
    )
