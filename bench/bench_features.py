"""Feature-library benchmarks, printed side by side as ratios.

1. Online retrieval of one entity (the active use case's feature service, incl. the on-demand view;
   STEELTHREAD_USECASE picks the use case, default credit): a raw read of the same
   key from the same store, Feast's get_online_features, and our online_vector (the direct reader and the
   Feast engine); SQLite (local profile) and Redis (production profile, registry in a throwaway
   PostgreSQL database).
2. Point-in-time join of N entity rows (default 1,000,000 events): training_frame through Feast's
   DuckDB offline store next to a pandas merge_asof reference on the same data; wall time and peak RSS of
   each in its own process (the import-only baseline RSS is printed too).
3. Feature cost: each feature view's online read of one entity (SQLite, and Redis unless skipped) and
   the request-time transform of one request, p50 and p99, against the use case's latency budgets
   (`FeatureView.read_budget_ms`, `OnDemandView.budget_ms`). The figures are recorded first; a cost over
   its budget then fails the run (exit 1, naming it), so `make bench` and CI's bench job catch a view
   that grew too slow to serve.

    uv run --no-sync python bench/bench_features.py --rows 1000000
    uv run --no-sync python bench/bench_features.py --rows 200000 --skip-redis
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import results as bench_results

if TYPE_CHECKING:
    from steelthread_features.settings import FeatureSettings


def _pct(samples: list[float]) -> tuple[float, float]:
    arr = np.array(samples) * 1e3
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def _time(fn, iterations: int) -> tuple[float, float]:
    for _ in range(20):
        fn()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return _pct(samples)


MEASURED: dict[str, dict[str, float]] = {"ratios": {}, "figures": {}}
"""What `record` stores: every printed p50 as a figure, every p50 against its base as a ratio."""
OVER_BUDGET: list[str] = []
"""Feature views (and the transform) whose measured p99 exceeded the use case's budget: the run fails."""


def _judge(what: str, stats: tuple[float, float], budget_ms: float | None, where: str) -> str:
    """One line for a budgeted cost; an exceeded budget is remembered for the run's exit status."""
    MEASURED["figures"][f"{where}: {what} p50 ms"] = stats[0]
    MEASURED["figures"][f"{where}: {what} p99 ms"] = stats[1]
    if budget_ms is None:
        verdict = "no budget"
    elif stats[1] <= budget_ms:
        verdict = f"within budget {budget_ms:g} ms"
    else:
        verdict = f"OVER budget {budget_ms:g} ms"
        OVER_BUDGET.append(f"{where}: {what} p99 {stats[1]:.3f} ms > {budget_ms:g} ms")
    return f"  {what:<45} p50 {stats[0]:8.3f} ms  p99 {stats[1]:8.3f} ms  {verdict}"


def _feature_cost(
    read_view: Callable[[str], object], transform_inputs: dict[str, object], where: str, iterations: int
) -> list[str]:
    """Each feature view's online read of one entity (`read_view(view)`) and the request-time transform,
    each against the use case's budget (`FeatureView.read_budget_ms`, `OnDemandView.budget_ms`)."""
    from steelthread_contracts.usecase import load_hook
    from steelthread_features.definitions import USE_CASE
    from steelthread_features.online import ONLINE_VIEWS

    lines = [f"feature cost per view ({where}), against the use case's budgets"]
    for view in ONLINE_VIEWS:
        budget = USE_CASE.view(view).read_budget_ms
        lines.append(_judge(f"read {view}", _time(lambda v=view: read_view(v), iterations), budget, where))
    transform = load_hook(USE_CASE.on_demand.row)
    stats = _time(lambda: transform(**transform_inputs), iterations)
    lines.append(_judge(f"transform {USE_CASE.on_demand.name}", stats, USE_CASE.on_demand.budget_ms, where))
    return lines


def _transform_inputs(entity: int, read: Callable[[list[int]], list[dict[str, object]]]) -> dict[str, object]:
    """The transform's keyword arguments for one request of `entity`: request fields and stored inputs."""
    from steelthread_features.definitions import USE_CASE

    request = _request(entity)
    (row,) = read([entity])
    return {name: request[name] for name in USE_CASE.request_names} | {
        name: row.get(name) for name in USE_CASE.on_demand.stored_inputs
    }


def _row(label: str, stats: tuple[float, float], base: tuple[float, float] | None, where: str) -> str:
    MEASURED["figures"][f"{where}: {label} p50 ms"] = stats[0]
    MEASURED["figures"][f"{where}: {label} p99 ms"] = stats[1]
    if base is not None:
        MEASURED["ratios"][f"{where}: base p50 / {label} p50"] = base[0] / stats[0]
    ratio = "" if base is None else f"{stats[0] / base[0]:8.1f}x {stats[1] / base[1]:8.1f}x"
    return f"  {label:<45} p50 {stats[0]:8.3f} ms  p99 {stats[1]:8.3f} ms  {ratio}"


def _compared_to_raw(
    settings: FeatureSettings, raw: tuple[float, float], entity: int, at: datetime, iterations: int
) -> list[str]:
    """The same four ways through one profile's online store, each as a ratio to its raw key read."""
    from steelthread_features import store
    from steelthread_features.definitions import JOIN_KEY

    handle = store._handle(settings)
    request = [_request(entity)]
    batch_refs = list(store._ONLINE_BATCH_REFS)
    ways: dict[str, Callable[[], object]] = {
        "Feast, batch views only": lambda: handle.store.get_online_features(
            features=batch_refs, entity_rows=[{JOIN_KEY: entity}]
        ).to_dict(),
        "Feast, service incl. on-demand view": lambda: handle.store.get_online_features(
            features=handle.service, entity_rows=request
        ).to_dict(),
        "steelthread online_vector, engine=feast": lambda: store.online_vector(
            request, settings=settings, as_of=at, engine="feast"
        ),
        "steelthread online_vector (default: direct)": lambda: store.online_vector(
            request, settings=settings, as_of=at
        ),
    }
    where = "SQLite" if settings.profile == "local" else "Redis"
    return [_row(label, _time(way, iterations), raw, where) for label, way in ways.items()]


def _async_redis_reads(settings: FeatureSettings, entity: int, iterations: int) -> list[str]:
    """Serving's event-loop read (`RedisReader.aread`) next to redis-py's asyncio client sending the
    same HMGET, timed inside one running loop (a `run_until_complete` per call would add its own task)."""
    import asyncio

    import redis.asyncio

    from steelthread_features import online

    reader = online.open_reader(settings)
    assert isinstance(reader, online.RedisReader)
    key = online.entity_key(entity) + settings.project.encode()

    async def timed(fn: Callable[[], Awaitable[object]]) -> tuple[float, float]:
        for _ in range(min(50, iterations)):
            await fn()
        samples = []
        for _ in range(iterations):
            started = time.perf_counter()
            await fn()
            samples.append(time.perf_counter() - started)
        return _pct(samples)

    async def both() -> list[str]:
        client = redis.asyncio.Redis.from_url(settings.redis_url)
        fields = reader._fields
        base = await timed(lambda: client.hmget(key, fields))  # type: ignore[arg-type]
        mine = await timed(lambda: reader.aread([entity]))
        await client.aclose()
        await reader.aclose()
        return [
            _row("redis-py asyncio client, same HMGET", base, None, "Redis asyncio"),
            _row("RedisReader.aread (serving's read)", mine, base, "Redis asyncio"),
        ]

    return asyncio.run(both())


def _request(entity: int) -> dict[str, object]:
    """One online request for the entity: each request field at its declared example value."""
    from steelthread_features.definitions import JOIN_KEY, USE_CASE

    return {
        JOIN_KEY: entity,
        **{f.name: f.example if f.example is not None else f.choices[0] for f in USE_CASE.request_fields},
    }


def bench_online(
    root: Path, rows: int, iterations: int, skip_redis: bool
) -> list[str]:  # pragma: no cover - benchmark
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.infra.online_stores.helpers import _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    from steelthread_features import online, store
    from steelthread_features.definitions import JOIN_KEY, USE_CASE
    from steelthread_features.generator import generate, write
    from steelthread_features.online import ONLINE_VIEWS
    from steelthread_features.settings import FeatureSettings

    data = generate(rows, seed=1)
    write(data, root / "online-data")
    at = data.end - timedelta(hours=1)
    entity = int(data.table(USE_CASE.tables.events)[JOIN_KEY].iloc[-1])
    key = EntityKey(join_keys=[JOIN_KEY], entity_values=[Value(int64_val=entity)])
    lines = [f"online retrieval of one entity ({rows:,} {USE_CASE.tables.events}, {iterations} calls)"]

    local = FeatureSettings(profile="local", tables_dir=root / "online-data", feast_dir=root / "feast-local")
    store.apply(local)
    store.materialize(at, settings=local)
    conn = sqlite3.connect(local.feast_dir / "online_store.db")
    blob = serialize_entity_key(key, entity_key_serialization_version=3)

    def raw_sqlite() -> None:
        for view in ONLINE_VIEWS:
            conn.execute(
                f"SELECT entity_key, feature_name, value, event_ts FROM {local.project}_{view} "
                "WHERE entity_key IN (?)",
                (blob,),
            ).fetchall()

    raw = _time(raw_sqlite, iterations)
    lines.append("local profile (SQLite)")
    lines.append(_row(f"raw SQLite read ({len(ONLINE_VIEWS)} views)", raw, None, "SQLite"))
    lines.extend(_compared_to_raw(local, raw, entity, at, iterations))
    one = [(f"{local.project}_{view}", view) for view in ONLINE_VIEWS]
    by_view = {
        view: f"SELECT feature_name, value, event_ts FROM {table} WHERE entity_key = ?" for table, view in one
    }
    reader = online.open_reader(local)
    lines.extend(
        _feature_cost(
            lambda view: conn.execute(by_view[view], (blob,)).fetchall(),
            _transform_inputs(entity, reader.read),
            "SQLite",
            iterations,
        )
    )
    reader.close()
    if skip_redis:
        return lines

    import psycopg
    import redis

    redis_url = os.environ.get("STEELTHREAD_REDIS_URL", "redis://127.0.0.1:6379/0")
    dsn = os.environ.get(
        "STEELTHREAD_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=disable"
    )
    parts = urlsplit(dsn)
    suffix = uuid.uuid4().hex[:10]
    database = f"st_bench_{suffix}"
    admin = psycopg.connect(
        urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, "")), autocommit=True
    )
    admin.execute(f'CREATE DATABASE "{database}"')
    prod = FeatureSettings(
        profile="production",
        project=f"st_bench_{suffix}",
        tables_dir=root / "online-data",
        feast_dir=root / "feast-prod",
        offline_store_uri=str((root / "online-data").resolve()),
        redis_url=redis_url,
        postgres_dsn=urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, "")),
    )
    client = redis.Redis.from_url(redis_url)
    try:
        store.apply(prod)
        store.materialize(at, settings=prod)
        rkey = _redis_key(prod.project, key, entity_key_serialization_version=3)
        raw = _time(lambda: client.hgetall(rkey), iterations)
        lines.append("production profile (Redis)")
        lines.append(_row("raw Redis HGETALL", raw, None, "Redis"))
        lines.extend(_compared_to_raw(prod, raw, entity, at, iterations))
        lines.append("production profile (Redis), on an event loop")
        lines.extend(_async_redis_reads(prod, entity, iterations))
        fields = {
            view: [online.redis_field(view, f) for f in features] + [f"_ts:{view}".encode()]
            for view, features in ONLINE_VIEWS.items()
        }
        reader = online.open_reader(prod)
        lines.extend(
            _feature_cost(
                lambda view: client.hmget(rkey, fields[view]),
                _transform_inputs(entity, reader.read),
                "Redis",
                iterations,
            )
        )
        reader.close()
    finally:
        try:
            store.get_store(prod).teardown()
            store.get_store(prod).registry.teardown()
        finally:
            store.clear_cache()
            leftover = list(client.scan_iter(match=f"*{prod.project}*".encode(), count=1000))
            if leftover:
                client.delete(*leftover)
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
            admin.close()
    return lines


def pit_child(method: str, data_dir: Path, feast_dir: Path) -> None:  # pragma: no cover
    """Run one PIT method and print {"seconds": ..., "rows": ...} (peak RSS is read by the parent)."""
    import pandas as pd

    from steelthread_contracts.usecase import load_hook
    from steelthread_features import store
    from steelthread_features.definitions import JOIN_KEY, USE_CASE
    from steelthread_features.feast_warnings import load_feast
    from steelthread_features.generator import read
    from steelthread_features.settings import FeatureSettings
    from steelthread_features.validation import entity_frame

    transform = load_hook(USE_CASE.on_demand.frame)
    entities = entity_frame(read(data_dir, USE_CASE.tables.events))
    if method == "baseline":
        load_feast()
        print(json.dumps({"seconds": 0.0, "rows": len(entities)}))
        return
    if method == "feast":
        settings = FeatureSettings(profile="local", tables_dir=data_dir, feast_dir=feast_dir)
        store.get_store(settings)  # import feast + registry before the clock starts
        start = time.perf_counter()
        frame = store.training_frame(entities, settings=settings)
    else:
        load_feast()
        tables = {view.name: read(data_dir, view.table) for view in USE_CASE.views}
        start = time.perf_counter()
        left = entities.assign(rid=np.arange(len(entities))).sort_values("event_timestamp")
        parts = [left]
        for view in USE_CASE.views:
            columns = [*view.features, *view.strings]
            right = (
                tables[view.name]
                .sort_values(["event_timestamp", "created_timestamp"])
                .rename(columns={"event_timestamp": "fts"})[[JOIN_KEY, "fts", *columns]]
            )
            merged = pd.merge_asof(
                left[[JOIN_KEY, "event_timestamp"]],
                right,
                left_on="event_timestamp",
                right_on="fts",
                by=JOIN_KEY,
            )
            stale = merged["fts"].isna() | (merged["event_timestamp"] - merged["fts"] > view.ttl)
            merged.loc[stale, columns] = None
            parts.append(merged[columns].set_axis(left.index))
        joined = pd.concat(parts, axis=1).sort_values("rid")
        frame = pd.concat([joined, transform(joined)], axis=1)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rows": len(frame)}))


def _run_child(method: str, data_dir: Path, feast_dir: Path) -> tuple[float, int, float]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--pit-child", method, str(data_dir), str(feast_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"PIT child {method} failed with {proc.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    return float(result["seconds"]), int(result["rows"]), usage.ru_maxrss / 1024


def bench_pit(root: Path, rows: int) -> list[str]:  # pragma: no cover - benchmark
    from steelthread_features import store
    from steelthread_features.definitions import USE_CASE
    from steelthread_features.generator import generate, write
    from steelthread_features.settings import FeatureSettings

    start = time.perf_counter()
    data = generate(rows, seed=2)
    write(data, root / "pit-data")
    gen_seconds = time.perf_counter() - start
    settings = FeatureSettings(profile="local", tables_dir=root / "pit-data", feast_dir=root / "pit-feast")
    store.apply(settings)
    sizes = " + ".join(f"{len(data.table(v.table)):,} {v.table} rows" for v in USE_CASE.views)
    lines = [
        f"point-in-time join: {rows:,} entity rows x {sizes} "
        f"(data generated and written in {gen_seconds:.1f} s)"
    ]
    base = _run_child("baseline", root / "pit-data", root / "pit-feast")
    feast = _run_child("feast", root / "pit-data", root / "pit-feast")
    ref = _run_child("pandas", root / "pit-data", root / "pit-feast")
    for label, (seconds, n, rss) in (("Feast DuckDB training_frame", feast), ("pandas merge_asof", ref)):
        if n != rows:
            raise SystemExit(f"{label} returned {n} rows for {rows}")
        lines.append(
            f"  {label:<30} {seconds:7.2f} s  peak RSS {rss:7.0f} MiB  "
            f"({rss - base[2]:6.0f} MiB over the {base[2]:.0f} MiB import baseline)"
        )
    MEASURED["ratios"]["PIT join: pandas seconds / Feast seconds"] = ref[0] / feast[0]
    MEASURED["figures"]["PIT join: Feast seconds"] = feast[0]
    MEASURED["figures"]["PIT join: pandas seconds"] = ref[0]
    MEASURED["figures"]["PIT join: Feast MiB over baseline"] = feast[2] - base[2]
    MEASURED["figures"]["PIT join: pandas MiB over baseline"] = ref[2] - base[2]
    lines.append(
        f"  ratio Feast / pandas: time {feast[0] / ref[0]:.2f}x, "
        f"memory over baseline {(feast[2] - base[2]) / max(ref[2] - base[2], 1):.2f}x"
    )
    return lines


def main() -> None:  # pragma: no cover - benchmark
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="entity rows for the PIT join")
    parser.add_argument("--online-rows", type=int, default=30_000)
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--skip-redis", action="store_true")
    parser.add_argument("--skip-pit", action="store_true")
    parser.add_argument("--pit-child", nargs=3, metavar=("METHOD", "DATA", "FEAST"))
    args = bench_results.parse(parser, small={"rows": 50_000, "online_rows": 5_000, "iterations": 200})
    if args.pit_child:
        method, data_dir, feast_dir = args.pit_child
        pit_child(method, Path(data_dir), Path(feast_dir))
        return
    from steelthread_features.feast_warnings import load_feast, quiet_feast

    load_feast()
    with tempfile.TemporaryDirectory(prefix="steelthread-bench-") as tmp, quiet_feast():
        root = Path(tmp)
        lines = bench_online(root, args.online_rows, args.iterations, args.skip_redis)
        if not args.skip_pit:
            lines += bench_pit(root, args.rows)
    print("\n".join(lines))
    bench_results.record(
        args,
        "features",
        params={
            "rows": 0 if args.skip_pit else args.rows,
            "online_rows": args.online_rows,
            "iterations": args.iterations,
            "redis": not args.skip_redis,
        },
        ratios=MEASURED["ratios"],
        figures=MEASURED["figures"],
    )
    if OVER_BUDGET:  # recorded first, so the figures that failed the run are there to read
        print("\n".join(["feature cost over the use case's budget:", *OVER_BUDGET]), file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
