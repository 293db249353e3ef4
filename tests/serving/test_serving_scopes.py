"""Scoped keys: each key has an owner and scopes, is stored hashed, and its owner (never the key) is
what the prediction log and feedback records name.

A key file (`STEELTHREAD_API_KEYS_FILE`) holds sha256 digests; plain `STEELTHREAD_API_KEYS` keep what they
always allowed (predict, explain, feedback). Over real HTTP.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from helpers.serving import API_KEY, APPLICATION, Live, read_log, running
from steelthread_serving.settings import ServingSettings

PREDICT_ONLY = "predict-only-key-0123456789"
FEEDBACK_ONLY = "feedback-only-key-0123456789"
EXPLAINER = "explainer-key-0123456789abc"
FEEDBACK = {"request_id": "abc-1", "observed_label": 1, "observed_at": "2026-11-01T10:00:00Z"}


def _entry(key: str, owner: str, scopes: list[str]) -> dict[str, object]:
    return {"owner": owner, "sha256": hashlib.sha256(key.encode()).hexdigest(), "scopes": scopes}


@pytest.fixture
def scoped(settings: ServingSettings, tmp_path: Path) -> Iterator[Live]:
    path = tmp_path / "keys.json"
    path.write_text(
        json.dumps(
            [
                _entry(PREDICT_ONLY, "team-scores", ["predict"]),
                _entry(FEEDBACK_ONLY, "team-labels", ["feedback"]),
                _entry(EXPLAINER, "team-risk", ["predict", "explain", "feedback"]),
            ]
        )
    )
    with running(settings.model_copy(update={"api_keys_file": path})) as server:
        yield server


def test_a_predict_key_predicts_but_neither_explains_nor_sends_feedback(scoped: Live) -> None:
    with scoped.client(key=PREDICT_ONLY) as c:
        assert c.post("/v1/predictions", json=APPLICATION).status_code == 200
        assert c.get("/v1/model").status_code == 200
        explain = c.post("/v1/predictions", json=APPLICATION | {"explain": True})
        batch = c.post(
            "/v1/predictions/batch", json={"items": [APPLICATION, APPLICATION | {"explain": True}]}
        )
        feedback = c.post("/v1/feedback", json=FEEDBACK)
    assert (explain.status_code, explain.json()["code"], explain.json()["field"]) == (
        403,
        "forbidden",
        "explain",
    )
    assert batch.status_code == 403
    assert (feedback.status_code, feedback.json()["code"]) == (403, "forbidden")
    assert len(read_log(scoped.settings.prediction_log_dir)) == 1  # a refused batch answers no item


def test_a_feedback_key_only_sends_feedback(scoped: Live) -> None:
    with scoped.client(key=FEEDBACK_ONLY) as c:
        assert c.post("/v1/predictions", json=APPLICATION).status_code == 403
        assert c.get("/v1/model").status_code == 403
        assert c.post("/v1/feedback", json=FEEDBACK).status_code == 202


def test_records_name_the_keys_owner_never_the_key(scoped: Live) -> None:
    with scoped.client(key=EXPLAINER) as c:
        assert c.post("/v1/predictions", json=APPLICATION | {"explain": True}).status_code == 200
        assert c.post("/v1/feedback", json=FEEDBACK).status_code == 202
    with scoped.client(key=API_KEY) as c:  # a plain key keeps predict, explain and feedback
        assert c.post("/v1/predictions", json=APPLICATION | {"explain": True}).status_code == 200
        assert c.post("/v1/feedback", json=FEEDBACK).status_code == 202
    plain_owner = "key-" + hashlib.sha256(API_KEY.encode()).hexdigest()[:8]
    assert [r["client"] for r in read_log(scoped.settings.prediction_log_dir)] == ["team-risk", plain_owner]
    files = list(scoped.settings.feedback_dir.glob("feedback-*.jsonl"))
    feedback = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert [r["client"] for r in feedback] == ["team-risk", plain_owner]
    written = "".join(f.read_text() for f in scoped.settings.data_dir.rglob("*.jsonl"))
    assert "team-risk" in written
    assert EXPLAINER not in written
    assert API_KEY not in written


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json", "not a scoped-key file"),
        (json.dumps([{"owner": "x", "sha256": "abc", "scopes": ["predict"]}]), "not a scoped-key file"),
        (json.dumps([_entry(EXPLAINER, "x", ["root"])]), "not a scoped-key file"),
        (json.dumps([_entry(EXPLAINER, "x", [])]), "not a scoped-key file"),
    ],
)
def test_a_bad_key_file_is_refused_at_start_up(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(ValidationError, match=problem):
        ServingSettings(api_keys_file=path)


def test_a_key_file_alone_is_enough_and_no_key_at_all_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps([_entry(EXPLAINER, "x", ["predict"])]))
    assert ServingSettings(api_keys_file=path).scoped_keys()[0].owner == "x"
    with pytest.raises(ValidationError, match="STEELTHREAD_API_KEYS"):
        ServingSettings(api_keys=[])
