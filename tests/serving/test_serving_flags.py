"""The serving mode follows the flag file without a restart (bad flag files: test_serving_flag_safety.py)."""

from __future__ import annotations

import time

import pytest

from helpers.serving import APPLICATION, Live, read_log, write_flags
from steelthread_contracts import ServingMode
from steelthread_serving.routing import canary_bucket, champion_answers


def wait_for_mode(live: Live, mode: str, timeout: float = 5.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    with live.client() as c:
        while True:
            body: dict[str, object] = c.post("/v1/predictions", json=APPLICATION).json()
            if body["mode"] == mode or time.monotonic() > deadline:
                return body
            time.sleep(0.05)


def test_mode_changes_without_restart(live: Live) -> None:
    assert wait_for_mode(live, "skeleton")["mode"] == "skeleton"
    write_flags(live.flags_path, "shadow")
    shadow = wait_for_mode(live, "shadow")
    assert shadow["mode"] == "shadow"
    # Shadow answers the fallback and is not degraded: the caller was never promised the model.
    assert (shadow["model_name"], shadow["degraded"]) == ("skeleton", False)
    write_flags(live.flags_path, "live")
    answer = wait_for_mode(live, "live")
    assert answer["mode"] == "live"
    # No registered model yet: the skeleton answers and says so.
    assert (answer["model_name"], answer["degraded"], answer["degraded_reason"]) == (
        "skeleton",
        True,
        "no_model_loaded",
    )
    with live.client() as c:
        info = c.get("/v1/model").json()
        metrics = c.get("/metrics").text
    assert info["mode"] == "live"
    assert "no registered model" in info["reason"]
    assert 'steelthread_serving_mode{mode="live"} 1.0' in metrics
    assert 'steelthread_serving_mode{mode="skeleton"} 0.0' in metrics
    modes = {r["mode"] for r in read_log(live.settings.prediction_log_dir)}
    assert {"skeleton", "shadow", "live"} <= modes


def test_canary_fraction_is_sticky_per_customer_and_close_to_the_flag() -> None:
    customers = range(1, 20_001)
    chosen = [c for c in customers if champion_answers(ServingMode.CANARY, 0.1, c)]
    share = len(chosen) / len(customers)
    # Binomial(20000, 0.1): sd = 0.0021; 5 sd either side.
    assert 0.0894 < share < 0.1106
    assert chosen == [c for c in customers if champion_answers(ServingMode.CANARY, 0.1, c)]
    # Raising the fraction only adds customers: nobody flips out of the canary.
    assert set(chosen) <= {c for c in customers if champion_answers(ServingMode.CANARY, 0.3, c)}


@pytest.mark.parametrize(
    ("mode", "expected"),
    [(ServingMode.SKELETON, False), (ServingMode.SHADOW, False), (ServingMode.LIVE, True)],
)
def test_modes_other_than_canary_ignore_the_fraction(mode: ServingMode, expected: bool) -> None:
    assert all(champion_answers(mode, 1.0, c) is expected for c in range(1, 100))


def test_canary_bucket_is_uniform_enough() -> None:
    buckets = [canary_bucket(c) for c in range(1, 10_001)]
    assert min(buckets) >= 0
    assert max(buckets) < 1
    assert 0.48 < sum(buckets) / len(buckets) < 0.52
