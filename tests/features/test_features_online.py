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
from steelthread_features.definitions import FEATURE_NAMES, JOIN_KEY
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


def _requests(customers: list[int]) -> list[dict[str, object]]:
    return [
        {
            "customer_id": c,
            "loan_amount": 1_000.0 + 37 * i,
            "term_months": (12, 24, 36, 48, 60)[i % 5],
            "purpose": ("car", "business", "medical", "other")[i % 4],
            "declared_income": 0.0 if i % 7 == 0 else 40_000.0 + i,
        }
        for i, c in enumerate(customers)
    ]


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


@pytest.mark.parametrize("customer", [0, 1, 42, 2**31, -5, 2**62])
def test_entity_key_and_redis_field_match_feast(customer: int) -> None:
    proto = EntityKey(join_keys=[JOIN_KEY], entity_values=[Value(int64_val=customer)])
    assert online.entity_key(customer) == serialize_entity_key(proto, entity_key_serialization_version=3)
    assert online.redis_field("credit_history", "total_balance") == _mmh3("credit_history:total_balance")


def test_direct_reader_equals_feast_for_every_customer(world, materialized) -> None:
    customers = sorted(int(c) for c in world.customers["customer_id"].unique())
    requests = _requests([*customers, 999_999_999])  # plus one the store has never seen
    direct = store.online_vector(requests, settings=world.settings, as_of=materialized)
    feast = store.online_vector(requests, settings=world.settings, as_of=materialized, engine="feast")
    assert direct == feast
    assert set(direct[-1].missing) >= {"age", "total_balance", "debt_to_income"}
    assert sum(not v.missing for v in direct) > len(customers) // 2  # most vectors are complete


def test_large_reads_are_split_into_statements_without_changing_a_value(
    world, materialized, monkeypatch
) -> None:
    """The batch endpoint or a burst of requests can ask for more keys than one SQLite statement may bind:
    the reader splits them, and repeated or unknown customers come back in the order asked."""
    customers = sorted(int(c) for c in world.customers["customer_id"].unique())
    asked = [*customers[:40], 999_999_999, *customers[:40], *customers[40:45]]
    requests = _requests(asked)
    reader = online.open_reader(world.settings)
    whole = online.online_vectors(requests, reader=reader, as_of=materialized)
    monkeypatch.setattr(online.SqliteReader, "MAX_KEYS", 7)
    split = online.online_vectors(requests, reader=reader, as_of=materialized)
    alone = [online.online_vectors([r], reader=reader, as_of=materialized)[0] for r in requests]
    reader.close()
    assert [v.customer_id for v in split] == asked
    assert split == whole == alone
    assert set(split[40].missing) >= {"age", "total_balance"}  # the unknown customer
    assert sum(not v.missing for v in split) > len(asked) // 2


def test_direct_reader_applies_ttl_like_feast(world, materialized) -> None:
    requests = _requests(sorted(int(c) for c in world.customers["customer_id"].unique())[:50])
    later = materialized + timedelta(days=120)  # past credit_history's 90-day TTL
    direct = store.online_vector(requests, settings=world.settings, as_of=later)
    assert direct == store.online_vector(requests, settings=world.settings, as_of=later, engine="feast")
    assert all("total_balance" in v.missing for v in direct)


def test_missing_online_store_names_the_fix(tmp_path) -> None:
    reader = online.SqliteReader(tmp_path / "online_store.db", "steelthread")
    with pytest.raises(FeatureRetrievalError, match="steelthread-features materialize"):
        reader.read([1])


def test_unmaterialised_view_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "online_store.db"
    sqlite3.connect(path).close()
    with pytest.raises(FeatureRetrievalError, match="applied and materialised"):
        online.SqliteReader(path, "steelthread").read([1])


def test_engine_is_checked(world) -> None:
    with pytest.raises(store.FeatureInputError, match="unknown engine"):
        store.online_vector(_requests([1]), settings=world.settings, engine="spark")  # type: ignore[arg-type]


def test_reading_online_features_imports_neither_feast_nor_pandas(world, materialized) -> None:
    code = (
        "import sys; from pathlib import Path\n"
        "from steelthread_features.online import online_vectors, open_reader\n"
        "from steelthread_features.settings import FeatureSettings\n"
        f"s = FeatureSettings(data_dir=Path({str(world.settings.data_dir)!r}), "
        f"feast_dir=Path({str(world.settings.feast_dir)!r}))\n"
        f"[v] = online_vectors({_requests([int(world.customers['customer_id'].iloc[0])])!r}, "
        "reader=open_reader(s))\n"
        "print(len(v.values), sorted(m for m in ('feast', 'pandas') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == f"{len(FEATURE_NAMES)} []"
