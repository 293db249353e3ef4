"""Personal data: what the use case tags never reaches the prediction log or an explanation raw.

Real `steelthread-serve` processes run a use case with personal fields (tests/fixtures/usecases/
private_fixture.py: the session's use case, its entity key tagged `hash`, a request field and a stored
feature tagged `drop`), one writing JSON lines, one PostgreSQL. The written files and rows are searched for
the raw values; the entity key is there as the keyed pseudonym, the same in both; feedback still joins its
prediction by request id, and the monitoring window treats a dropped feature as absent (not checked), never as missing.
Batch writes its prediction log through the same policy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd
import psycopg
import pyarrow as pa
import pytest
from fixtures.usecases.private_fixture import BASE_ENV, DROPPED_FEATURE, DROPPED_FIELD, PATH
from fixtures.usecases.private_fixture import USE_CASE as PRIVATE

from helpers.packages import make_package, publish
from helpers.postgres import throwaway_database
from helpers.serving import API_KEY, read_log, serve_process, write_flags
from helpers.usecase import JOIN_KEY, USE_CASE
from helpers.world import FeatureWorld
from steelthread_contracts import logstore
from steelthread_contracts.privacy import LogPolicy, PrivacyError, pseudonym, secret_of
from steelthread_contracts.usecase import USECASE_ENV, active_name
from steelthread_monitoring.reference import Reference
from steelthread_monitoring.window import read_window
from steelthread_serving.settings import DEFAULT_FLAGS_PATH

TESTS = Path(__file__).resolve().parents[1]
SECRET = "test-pseudonym-secret-0123456789"


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with throwaway_database("steelthread_privacy") as dsn:
        yield dsn


def _env(root: Path, world: FeatureWorld, **extra: str) -> dict[str, str]:
    flags = root / "flags.json"
    flags.write_bytes(DEFAULT_FLAGS_PATH.read_bytes())
    write_flags(flags, "live")
    return {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")} | {
        USECASE_ENV: PATH,
        BASE_ENV: active_name(),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
        "STEELTHREAD_API_KEYS": API_KEY,
        "STEELTHREAD_DATA_DIR": str(world.root),
        "STEELTHREAD_MODELS_DIR": str(root / "models"),
        "STEELTHREAD_PREDICTION_LOG_DIR": str(root / "log"),
        "STEELTHREAD_FEEDBACK_DIR": str(root / "feedback"),
        "STEELTHREAD_FLAGS_PATH": str(flags),
        "STEELTHREAD_FEATURE_TIMEOUT_MS": "2000",
        "STEELTHREAD_PSEUDONYM_KEY": SECRET,
        **extra,
    }


def _exchange(url: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each body answered (explained), and an observed label sent back for it."""
    with httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}, timeout=10) as c:
        answers = [c.post("/v1/predictions", json=b).json() for b in bodies]
        for a in answers:
            label: int | float = 1 if USE_CASE.task.value == "binary" else 30.0
            feedback = {
                "request_id": a["request_id"],
                "observed_label": label,
                "observed_at": "2026-12-01T00:00:00Z",
            }
            assert c.post("/v1/feedback", json=feedback).status_code == 202
    return answers


def _raw_key_pattern(keys: set[int]) -> re.Pattern[str]:
    """A raw key as the value of the record's key fields (`entity_key`, the request's join key). The keys
    are small integers, which other fields hold too (a term in months), so the search is by field."""
    values = "|".join(str(k) for k in sorted(keys))
    return re.compile(rf'"(entity_key|{JOIN_KEY})"\s*:\s*({values})\s*[,}}]')


def _check_record(record: dict[str, Any], raw_key: int) -> None:
    assert record["entity_key"] == pseudonym(raw_key, SECRET.encode())
    assert record["request"][JOIN_KEY] == record["entity_key"]
    assert DROPPED_FIELD not in record["request"]
    assert DROPPED_FEATURE not in record["features"]
    assert record["features"], "the kept features are still logged (monitoring needs them)"


def test_the_log_and_explanations_keep_no_tagged_field_raw(
    tmp_path: Path, world: FeatureWorld, database: str
) -> None:
    make_package(tmp_path / "models", "1", booster=True)
    publish(tmp_path / "models", "champion", "1")
    requests = world.requests(25)
    bodies = [
        r.model_dump(mode="json", exclude_none=True) | {"explain": True, "request_id": f"p-{i}"}
        for i, r in enumerate(requests)
    ]
    raw_keys = {b["request_id"]: b[JOIN_KEY] for b in bodies}

    with serve_process(_env(tmp_path, world), tmp_path / "files.log", ready_within=60) as url:
        answers = _exchange(url, bodies)
    pg_bodies = [b | {"request_id": f"pg-{i}"} for i, b in enumerate(bodies)]
    raw_keys |= {b["request_id"]: b[JOIN_KEY] for b in pg_bodies}
    (tmp_path / "pg").mkdir()
    env = _env(tmp_path / "pg", world, STEELTHREAD_PREDICTION_LOG_DSN=database)
    env["STEELTHREAD_MODELS_DIR"] = str(tmp_path / "models")
    with serve_process(env, tmp_path / "pg.log", ready_within=60) as url:
        answers += _exchange(url, pg_bodies)

    # The answers: a model answered, explained, without the dropped feature's value.
    assert all(not a["degraded"] and a["explanation"] is not None for a in answers)
    assert all(DROPPED_FEATURE not in a["features"] for a in answers)

    # The JSON-lines log: pseudonyms, no dropped field, and no raw value anywhere in the text.
    records = read_log(tmp_path / "log")
    assert {r["request_id"] for r in records} == {b["request_id"] for b in bodies}
    for record in records:
        _check_record(record, raw_keys[record["request_id"]])
    text = "".join(p.read_text() for p in (tmp_path / "log").glob("*.jsonl"))
    assert f'"{DROPPED_FIELD}"' not in text  # as a JSON key: never written
    assert f'"{DROPPED_FEATURE}"' not in text
    assert not _raw_key_pattern(set(raw_keys.values())).search(text)

    # The PostgreSQL rows: the same, in the record and in the entity-key column.
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            f"SELECT request_id, entity_key, record::text FROM {logstore.PREDICTION_TABLE}"
        ).fetchall()
    assert {r[0] for r in rows} == {b["request_id"] for b in pg_bodies}
    for request_id, key, record_text in rows:
        assert key == pseudonym(raw_keys[request_id], SECRET.encode())
        _check_record(orjson.loads(record_text), raw_keys[request_id])
        assert f'"{DROPPED_FIELD}"' not in record_text
        assert f'"{DROPPED_FEATURE}"' not in record_text
        assert not _raw_key_pattern(set(raw_keys.values())).search(record_text)
    # one customer, one pseudonym, whichever replica or sink wrote it
    by_raw = {raw_keys[r[0]]: r[1] for r in rows}
    assert all(by_raw[raw_keys[r["request_id"]]] == r["entity_key"] for r in records)

    # Monitoring: labels join by request id; the dropped feature is absent, not counted as missing.
    features = list(USE_CASE.feature_names)
    reference = Reference(
        frame=pd.DataFrame({**{f: [0.0, 1.0] for f in features}, "score": [0.1, 0.2], "label": [0, 1]}),
        path=tmp_path / "reference.parquet",
        feature_names=features,
        task=USE_CASE.task,
    )
    now = datetime.now(UTC)
    window = read_window(tmp_path / "log", tmp_path / "feedback", now - timedelta(hours=1), now, reference)
    assert len(window.frame) == len(bodies)
    assert DROPPED_FEATURE not in window.frame.columns
    assert DROPPED_FEATURE in window.absent_columns
    assert len(window.labelled) == len(bodies)


def test_batch_writes_its_prediction_log_through_the_same_policy() -> None:
    from steelthread_batch.columns import ENTITY_KEY, QUARANTINE_REASON, REQUEST_FIELDS
    from steelthread_batch.prediction_log import to_prediction_log

    policy = LogPolicy.of(PRIVATE, SECRET.encode())
    features = list(USE_CASE.feature_names)
    n = 4
    columns: dict[str, pa.Array] = {
        "request_id": pa.array([f"b-{i}" for i in range(n)]),
        ENTITY_KEY: pa.array([11, 12, 13, 11], pa.int64()),
        QUARANTINE_REASON: pa.nulls(n, pa.string()),
        "model_name": pa.array(["m"] * n),
        "model_version": pa.array(["1"] * n),
        "score": pa.array([0.1] * n),
        "decision": pa.array(["approve"] * n),
        "decided_by": pa.array(["package"] * n),
        "scored_at": pa.array([datetime(2026, 12, 1, tzinfo=UTC)] * n, pa.timestamp("us", tz="UTC")),
        "latency_ms": pa.array([0.1] * n),
        DROPPED_FIELD: pa.array([777.5] * n, REQUEST_FIELDS[DROPPED_FIELD]),
        **{f: pa.array([1.0 + j] * n) for j, f in enumerate(features)},
    }
    logged = to_prediction_log(pa.RecordBatch.from_pydict(columns), features, "champion", policy).to_pylist()
    keys = [row["entity_key"] for row in logged]
    assert keys == [pseudonym(k, SECRET.encode()) for k in (11, 12, 13, 11)]
    assert keys[0] == keys[3]
    assert all(row["request"][JOIN_KEY] == row["entity_key"] for row in logged)
    assert all(
        DROPPED_FIELD not in row["request"] and DROPPED_FEATURE not in row["features"] for row in logged
    )
    assert all(set(row["features"]) == set(features) - {DROPPED_FEATURE} for row in logged)


def test_a_hashing_policy_needs_a_secret_and_the_local_profile_makes_one_once(tmp_path: Path) -> None:
    with pytest.raises(PrivacyError, match="STEELTHREAD_PSEUDONYM_KEY"):
        LogPolicy.of(PRIVATE)
    with pytest.raises(PrivacyError, match="production profile needs STEELTHREAD_PSEUDONYM_KEY"):
        secret_of(None, tmp_path, "production")
    first = secret_of(None, tmp_path, "local")
    assert secret_of(None, tmp_path, "local") == first  # serving and batch on one machine agree
    assert (tmp_path / "pseudonym.key").stat().st_mode & 0o077 == 0
    assert len(first) >= 32
    assert pseudonym(42, first) != pseudonym(42, b"another secret")
    assert 1 <= pseudonym(42, first) < 2**53
    plain = replace(PRIVATE, personal=())
    assert LogPolicy.of(plain).key(42) == 42
