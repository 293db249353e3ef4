"""Reasons for each decision, served: with `explain=true` a live answer carries the answering model's own
contributions (LightGBM's TreeSHAP from the booster its package ships) for the feature values it answers,
summing to the model's raw margin, and the reason codes of an adverse decision. A package without a
booster still serves, without explanations; one whose booster does not belong to it is refused."""

from __future__ import annotations

import json
import math
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from helpers.packages import make_package, publish
from helpers.serving import body, running, wait_until, write_flags
from helpers.usecase import SCORE_FIELD, USE_CASE
from helpers.world import FeatureWorld
from steelthread_contracts import PredictionResponse
from steelthread_contracts import package as contract
from steelthread_contracts.package import Task
from steelthread_features.definitions import FEATURE_NAMES
from steelthread_serving.package import load_package
from steelthread_serving.settings import ServingSettings

CODES = {r.code: r for r in USE_CASE.reason_texts}


def test_live_explanations_are_the_boosters_contributions_and_name_only_adverse_factors(
    model_settings: ServingSettings, world: FeatureWorld
) -> None:
    assert model_settings.models_dir is not None
    # A low cut (binary), so most answers are adverse and carry reasons; regression decides by the use case.
    folder = make_package(model_settings.models_dir, "1", booster=True, threshold=0.1, review_threshold=0.05)
    publish(model_settings.models_dir, "champion", "1")
    write_flags(model_settings.flags_path, "live")
    with running(model_settings) as live, live.client() as c:
        wait_until(lambda: c.get("/v1/model").json()["champion"]["version"] == "1")
        answers = [
            c.post("/v1/predictions", json=body(r) | {"explain": True}).json() for r in world.requests(40)
        ]
        plain = c.post("/v1/predictions", json=body(world.requests(1)[0])).json()
    assert plain["explanation"] is None
    assert all(not a["degraded"] and a["model_version"] == "1" for a in answers)
    for a in answers:
        PredictionResponse.model_validate(a)

    booster = lgb.Booster(model_file=str(folder / contract.BOOSTER_FILE))
    # the float32 values the graph scored (read from the store: an answer leaves out the use case's personal
    # fields), widened exactly
    matrix = world.matrix(world.requests(40), FEATURE_NAMES).astype(np.float64)
    expected = booster.predict(matrix, pred_contrib=True)
    margins = booster.predict(matrix, raw_score=True)
    adverse = 0
    for a, row, margin in zip(answers, expected, margins, strict=True):
        e = a["explanation"]
        assert [e["contributions"][n] for n in FEATURE_NAMES] == row[:-1].tolist()
        assert e["base_value"] == row[-1]
        assert abs(sum(e["contributions"].values()) + e["base_value"] - margin) <= 1e-6
        assert abs(e["margin"] - margin) <= 1e-6
        # the margin explains the answered score (float32 graph: within its parity)
        if USE_CASE.task is Task.BINARY:
            assert e["scale"] == "log_odds"
            assert abs(1 / (1 + math.exp(-e["margin"])) - a[SCORE_FIELD]) <= 1e-5
        else:
            assert e["scale"] == "score"
            assert abs(e["margin"] - a[SCORE_FIELD]) <= 1e-5 * max(1.0, abs(margin))
        if a["decision"] == "approve":
            assert e["reasons"] == []
            continue
        adverse += 1
        reasons = e["reasons"]
        assert 1 <= len(reasons) <= 4 or all(v <= 0 for v in e["contributions"].values())
        totals = [r["contribution"] for r in reasons]
        assert totals == sorted(totals, reverse=True)
        assert all(t > 0 for t in totals)
        for r in reasons:
            declared = CODES[r["code"]]
            assert (r["text"], tuple(r["features"])) == (declared.text, declared.features)
            assert math.isclose(r["contribution"], sum(e["contributions"][f] for f in declared.features))
        # no factor left out pushed harder than the last one named
        named = {r["code"] for r in reasons}
        others = [
            sum(e["contributions"][f] for f in t.features) for code, t in CODES.items() if code not in named
        ]
        if len(reasons) == 4:
            assert max(others, default=0.0) <= totals[-1]
        else:
            assert all(o <= 0 for o in others)
    assert adverse >= 10, "the test needs adverse decisions to check"


def test_a_package_without_a_booster_serves_without_explanations_and_a_foreign_booster_is_refused(
    tmp_path: Path,
) -> None:
    bare = make_package(tmp_path, "1")
    assert load_package(bare, ["CPUExecutionProvider"]).explainer is None

    shipped = make_package(tmp_path, "2", booster=True)
    assert load_package(shipped, ["CPUExecutionProvider"]).explainer is not None
    # another model's booster, hashed as if it were this package's: its features are not the package's
    other = make_package(
        tmp_path / "other", "9", booster=True, feature_names=[f"x{i}" for i in range(len(FEATURE_NAMES))]
    )
    (shipped / contract.BOOSTER_FILE).write_bytes((other / contract.BOOSTER_FILE).read_bytes())
    manifest = json.loads((shipped / contract.PACKAGE_FILE).read_text())
    manifest["sha256"][contract.BOOSTER_FILE] = contract.sha256_file(shipped / contract.BOOSTER_FILE)
    (shipped / contract.PACKAGE_FILE).write_text(json.dumps(manifest))
    with pytest.raises(contract.PackageError, match=r"other features than package\.json"):
        load_package(shipped, ["CPUExecutionProvider"])
