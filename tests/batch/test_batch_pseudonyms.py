"""A batch pseudonymises each distinct entity key once, with the one owner of the pseudonym (ADR 0018).

`prediction_log.pseudonymised` calls `LogPolicy.key`, the function serving's records go through, once per
distinct key of an Arrow batch and takes the results back to the rows: the column equals the per-row
function on every row, a null key stays null, and a key repeated across rows costs one HMAC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from steelthread_batch.prediction_log import pseudonymised
from steelthread_contracts.privacy import NO_POLICY, LogPolicy, pseudonym

SECRET = b"batch-pseudonym-test-secret-0123456789"
HASHING = LogPolicy(hash_key=True, dropped=frozenset(), secret=SECRET)


@dataclass(frozen=True)
class CountingPolicy(LogPolicy):
    """The real hashing policy, also recording each key it is asked to pseudonymise."""

    asked: list[int] = field(default_factory=list)

    def key(self, key: int) -> int:
        self.asked.append(key)
        return super().key(key)


def _per_row(keys: pa.Array, policy: LogPolicy) -> list[int | None]:
    return [None if k is None else policy.key(k) for k in keys.to_pylist()]


def test_repeated_and_null_keys_get_what_the_per_row_function_gives() -> None:
    keys = pa.array([11, 12, None, 11, 13, 12, 11, None, 2**62], pa.int64())
    got = pseudonymised(keys, HASHING)
    assert got.type == pa.int64()
    assert got.to_pylist() == _per_row(keys, HASHING)
    assert got.to_pylist() == [None if k is None else pseudonym(k, SECRET) for k in keys.to_pylist()]
    values = got.to_pylist()
    assert values[0] == values[3] == values[6] != values[1]
    assert values[2] is None
    assert values[7] is None
    assert all(v is None or 1 <= v < 2**53 for v in values)


def test_each_distinct_key_is_pseudonymised_once_per_batch() -> None:
    policy = CountingPolicy(hash_key=True, dropped=frozenset(), secret=SECRET)
    keys = pa.array([7, 7, None, 8, 7, 8, 9, None, 9, 9], pa.int64())
    got = pseudonymised(keys, policy)
    assert sorted(policy.asked) == [7, 8, 9]
    assert got.to_pylist() == _per_row(keys, HASHING)


def test_a_large_batch_agrees_with_the_per_row_function() -> None:
    rng = np.random.default_rng(18)
    values = rng.integers(0, 500, 20_000)
    nulls = rng.random(20_000) < 0.05
    keys = pa.array(values, pa.int64(), mask=nulls)
    got = pseudonymised(keys, HASHING)
    assert got.null_count == int(nulls.sum())
    assert got.to_pylist() == _per_row(keys, HASHING)


def test_an_empty_batch_and_a_policy_that_keeps_keys() -> None:
    assert pseudonymised(pa.array([], pa.int64()), HASHING).to_pylist() == []
    keys = pa.array([1, None, 1], pa.int64())
    assert pseudonymised(keys, NO_POLICY) is keys
