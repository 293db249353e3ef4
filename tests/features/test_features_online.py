"""The direct online reader (`steelthread_features.online`) against Feast itself.

The reader re-implements Feast's storage layout to keep `import feast` and the registry off the serving
path; these tests pin every piece of that layout to Feast's own code, so a Feast upgrade that changes it
fails here rather than in production.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import timedelta

import pytest

from steelthread_features import online, store
from steelthread_features.definitions import FEATURE_NAMES, JOIN_KEY, USE_CASE
from steelthread_features.errors import FeatureRetrievalError
from steelthread_features.feast_warnings import load_feast

load_feast()  # the library's way in: keeps Feast from switching prometheus_client to multiprocess mode

from feast.infra.key_encoding_utils import serialize_entity_key  # noqa: E402
from feast.infra.online_stores.helpers import _mmh3  # noqa: E402
from feast.protos.feast.types.EntityKey_pb2 import EntityKey  # noqa: E402
from feast.protos.feast.types.Value_pb2 import Null, Value  # noqa: E402


@pytest.fixture(scope="module")
def materialized(world):
    at = world.data.end - timedelta(hours=1)
    store.materialize(at, settings=world.settings)
    return at


UNKNOWN = 999_999_999
"""An entity key the store has never seen."""
STORED = {f for view in USE_CASE.views for f in view.served}
"""What an unknown entity lacks: every batch feature, and every request-time feature that needs one."""
NEEDS_STORED = STORED | set(USE_CASE.on_demand.freshness)
SHORTEST = min(USE_CASE.views, key=lambda view: view.ttl)


def test_value_descriptor_matches_feast() -> None:
    ours = {f.name: (f.number, f.type) for f in online._VALUE.DESCRIPTOR.fields}
    feast = {f.name: (f.number, f.type) for f in Value.DESCRIPTOR.fields}
    for name, (number, kind) in ours.items():
        assert feast[name][0] == number, name
        if name != "null_val":  # an enum in Feast, declared as int32 here: the same varint on the wire
            assert feast[name][1] == kind, name


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Value(double_val=0.25), 0.25),
        (Value(float_val=1.5), 1.5),
        (Value(int64_val=-(2**40)), float(-(2**40))),
        (Value(int32_val=7), 7.0),
        (Value(bool_val=True), 1.0),
        (Value(string_val="rent"), "rent"),
        (Value(null_val=Null.NULL), None),
        (Value(), None),
    ],
)
def test_decode_value_reads_feast_values(value: Value, expected: object) -> None:
    assert online.decode_value(value.SerializeToString(), "f") == expected


def test_decode_value_refuses_kinds_it_does_not_serve() -> None:
    raw = Value(double_list_val={"val": [1.0, 2.0]}).SerializeToString()
    with pytest.raises(FeatureRetrievalError, match="'embedding'"):
        online.decode_value(raw, "embedding")


@pytest.mark.parametrize("entity", [0, 1, 42, 2**31, -5, 2**62])
def test_entity_key_and_redis_field_match_feast(entity: int) -> None:
    proto = EntityKey(join_keys=[JOIN_KEY], entity_values=[Value(int64_val=entity)])
    assert online.entity_key(entity) == serialize_entity_key(proto, entity_key_serialization_version=3)
    for view, features in online.ONLINE_VIEWS.items():
        assert online.redis_field(view, features[-1]) == _mmh3(f"{view}:{features[-1]}")


def test_direct_reader_equals_feast_for_every_entity(world, materialized, make_requests) -> None:
    entities = world.entity_ids()
    requests = make_requests([*entities, UNKNOWN])
    direct = store.online_vector(requests, settings=world.settings, as_of=materialized)
    feast = store.online_vector(requests, settings=world.settings, as_of=materialized, engine="feast")
    assert direct == feast
    assert set(direct[-1].missing) >= NEEDS_STORED
    assert sum(not v.missing for v in direct) > len(entities) // 2  # most vectors are complete


def test_large_reads_are_split_into_statements_without_changing_a_value(
    world, materialized, monkeypatch, make_requests
) -> None:
    """The batch endpoint or a burst of requests can ask for more keys than one SQLite statement may bind:
    the reader splits them, and repeated or unknown entities come back in the order asked."""
    entities = world.entity_ids()
    asked = [*entities[:40], UNKNOWN, *entities[:40], *entities[40:45]]
    requests = make_requests(asked)
    reader = online.open_reader(world.settings)
    whole = online.online_vectors(requests, reader=reader, as_of=materialized)
    monkeypatch.setattr(online.SqliteReader, "MAX_KEYS", 7)
    split = online.online_vectors(requests, reader=reader, as_of=materialized)
    alone = [online.online_vectors([r], reader=reader, as_of=materialized)[0] for r in requests]
    reader.close()
    assert [v.entity_id for v in split] == asked
    assert split == whole == alone
    assert set(split[40].missing) >= NEEDS_STORED  # the unknown entity
    assert sum(not v.missing for v in split) > len(asked) // 2


def test_direct_reader_applies_ttl_like_feast(world, materialized, make_requests) -> None:
    requests = make_requests(world.entity_ids()[:50])
    later = materialized + SHORTEST.ttl + timedelta(days=30)  # past the shortest TTL
    direct = store.online_vector(requests, settings=world.settings, as_of=later)
    assert direct == store.online_vector(requests, settings=world.settings, as_of=later, engine="feast")
    assert all(set(SHORTEST.served) <= set(v.missing) for v in direct)


def test_missing_online_store_names_the_fix(tmp_path) -> None:
    reader = online.SqliteReader(tmp_path / "online_store.db", "steelthread")
    with pytest.raises(FeatureRetrievalError, match="steelthread-features materialize"):
        reader.read([1])


def test_unmaterialised_view_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "online_store.db"
    sqlite3.connect(path).close()
    with pytest.raises(FeatureRetrievalError, match="applied and materialised"):
        online.SqliteReader(path, "steelthread").read([1])


def test_engine_is_checked(world, make_requests) -> None:
    with pytest.raises(store.FeatureInputError, match="unknown engine"):
        store.online_vector(make_requests([1]), settings=world.settings, engine="spark")  # type: ignore[arg-type]


def test_reading_online_features_imports_neither_feast_nor_pandas(world, materialized, make_requests) -> None:
    code = (
        "import sys; from pathlib import Path\n"
        "from steelthread_features.online import online_vectors, open_reader\n"
        "from steelthread_features.settings import FeatureSettings\n"
        f"s = FeatureSettings(tables_dir=Path({str(world.settings.tables_dir)!r}), "
        f"feast_dir=Path({str(world.settings.feast_dir)!r}))\n"
        f"[v] = online_vectors({make_requests(world.entity_ids()[:1])!r}, "
        "reader=open_reader(s))\n"
        "print(len(v.values), sorted(m for m in ('feast', 'pandas') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == f"{len(FEATURE_NAMES)} []"
