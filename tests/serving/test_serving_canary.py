"""A canary against the previous champion: the new champion answers a sticky fraction of entity keys and
`stable` (the champion it replaced) the rest, shadow mode answers with stable, and per-version metrics keep
the two apart. Real app, real online features (local Feast store), packages published the way promotion
publishes them (the replaced champion kept as `stable` first).
"""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from helpers.packages import MODEL_NAME, make_package, promote
from helpers.serving import body, read_log, running, serves, wait_until, write_flags
from helpers.usecase import JOIN_KEY, USE_CASE
from helpers.world import FeatureWorld
from steelthread_serving.routing import canary_bucket
from steelthread_serving.settings import ServingSettings

FRACTION = 0.3


def promote_to(settings: ServingSettings, version: str) -> None:
    assert settings.models_dir is not None
    promote(settings.models_dir, version)


def version_counts(metrics: str) -> dict[tuple[str, str, str], float]:
    """`steelthread_version_predictions_total` by (role, model_version, outcome)."""
    return {
        (s.labels["role"], s.labels["model_version"], s.labels["outcome"]): s.value
        for family in text_string_to_metric_families(metrics)
        if family.name == "steelthread_version_predictions"
        for s in family.samples
        if s.name.endswith("_total")
    }


@pytest.fixture
def two_versions(model_settings: ServingSettings) -> ServingSettings:
    """v1 was champion; v2 (another model) replaced it: stable v1, champion v2."""
    assert model_settings.models_dir is not None
    make_package(model_settings.models_dir, "1", seed=1)
    make_package(model_settings.models_dir, "2", seed=2)
    promote_to(model_settings, "1")
    promote_to(model_settings, "2")
    return model_settings


def test_canary_splits_the_new_champion_and_stable_by_the_fraction_and_never_answers_the_skeleton(
    two_versions: ServingSettings, world: FeatureWorld
) -> None:
    write_flags(two_versions.flags_path, "canary", FRACTION)
    requests = world.requests(100)
    with running(two_versions) as live, live.client() as c:
        wait_until(lambda: serves(live, "2", "1"))
        first = {getattr(r, JOIN_KEY): c.post("/v1/predictions", json=body(r)).json() for r in requests}
        again = {getattr(r, JOIN_KEY): c.post("/v1/predictions", json=body(r)).json() for r in requests}
        info = c.get("/v1/model").json()
        metrics = c.get("/metrics").text
    expected = {key: "2" if canary_bucket(key) < FRACTION else "1" for key in first}
    assert {key: a["model_version"] for key, a in first.items()} == expected
    assert {key: a["model_version"] for key, a in again.items()} == expected  # sticky per entity
    canary = sum(v == "2" for v in expected.values())
    assert 0 < canary < len(expected)  # both groups are in the sample
    answers = [*first.values(), *again.values()]
    assert all(a["model_name"] == MODEL_NAME and not a["degraded"] for a in answers)
    assert all(a["mode"] == "canary" for a in answers)

    assert info["stable"]["version"] == "1"
    assert f"the rest stable {MODEL_NAME}:1 (the previous champion)" in info["reason"]

    counts = version_counts(metrics)
    assert counts[("champion", "2", "ok")] == 2 * canary
    assert counts[("stable", "1", "ok")] == 2 * (len(expected) - canary)
    assert not any(role == "fallback" and n for (role, _, _), n in counts.items())

    # The canary model runs only for the canary share: the others never wait for it. The log keeps the
    # entity key as the use case's privacy policy says (a pseudonym where it is tagged `hash`).
    policy = two_versions.log_policy(USE_CASE)
    logged_as = {policy.key(key): version for key, version in expected.items()}
    for record in read_log(two_versions.prediction_log_dir):
        roles = [s["role"] for s in record["scores"]]
        in_canary = logged_as[record["entity_key"]] == "2"
        assert roles == (["champion", "fallback"] if in_canary else ["stable", "fallback"])


def test_shadow_keeps_the_stable_answer_and_logs_the_new_champion(
    two_versions: ServingSettings, world: FeatureWorld
) -> None:
    write_flags(two_versions.flags_path, "shadow")
    with running(two_versions) as live, live.client() as c:
        wait_until(lambda: serves(live, "2", "1"))
        answers = [c.post("/v1/predictions", json=body(r)).json() for r in world.requests(20)]
        info = c.get("/v1/model").json()
    assert {(a["model_version"], a["degraded"]) for a in answers} == {("1", False)}
    assert f"stable {MODEL_NAME}:1 (the previous champion) answers" in info["reason"]
    records = read_log(two_versions.prediction_log_dir)
    assert len(records) == 20
    for record in records:
        scores = {s["role"]: s for s in record["scores"]}
        assert set(scores) == {"champion", "stable", "fallback"}
        assert scores["champion"]["model_version"] == "2"
        assert scores["champion"]["score"] is not None
        assert record["score"] == scores["stable"]["score"]


def test_without_a_stable_the_rest_get_the_fallback_and_serving_says_so(
    model_settings: ServingSettings, world: FeatureWorld
) -> None:
    """A first champion replaced nothing: outside the canary the fallback answers (what served before),
    reported in /v1/model and counted under the fallback role, never silently."""
    assert model_settings.models_dir is not None
    make_package(model_settings.models_dir, "1", seed=1)
    promote_to(model_settings, "1")
    write_flags(model_settings.flags_path, "canary", FRACTION)
    requests = world.requests(60)
    with running(model_settings) as live, live.client() as c:
        wait_until(lambda: serves(live, "1", None))
        answers = {getattr(r, JOIN_KEY): c.post("/v1/predictions", json=body(r)).json() for r in requests}
        info = c.get("/v1/model").json()
        metrics = c.get("/metrics").text
    outside = [a for key, a in answers.items() if canary_bucket(key) >= FRACTION]
    assert outside
    assert {(a["model_name"], a["decided_by"], a["degraded"]) for a in outside} == {
        ("skeleton", "fallback", False)
    }
    assert info["stable"] is None
    assert "the rest the skeleton (no stable: no champion came before this one)" in info["reason"]
    assert version_counts(metrics)[("fallback", "0", "ok")] == len(outside)
