"""The consumer example against a real `steelthread-serve` process on loopback.

A cross-member test (the consumer and the server), so it lives here and not in examples/consumer/tests:
the consumer installs alone (`uv sync --package steelthread-consumer-example`) without the server.

The consumer is a client of the credit example's API (`API_USE_CASE`), so the server process runs that use
case whatever this process runs (`STEELTHREAD_USECASE`), and the test speaks the client's models, never the
active use case's.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from helpers.serving import API_KEY, serve_process
from steelthread_consumer_example.__main__ import example_requests, main
from steelthread_consumer_example.client import API_USE_CASE, ApiClient, ApiError, credit_api
from steelthread_contracts.usecase import USECASE_ENV
from steelthread_serving.settings import DEFAULT_FLAGS_PATH

MODELS = credit_api()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("consumer")
    shutil.copy(DEFAULT_FLAGS_PATH, tmp / "flags.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")} | {
        USECASE_ENV: API_USE_CASE,
        "STEELTHREAD_API_KEYS": API_KEY,
        "STEELTHREAD_DATA_DIR": str(tmp / "var"),
        "STEELTHREAD_FLAGS_PATH": str(tmp / "flags.json"),
    }
    with serve_process(env, tmp / "server.log") as url:
        yield url


def test_example_requests_get_typed_answers(server: str) -> None:
    requests = example_requests()
    assert len(requests) >= 4
    with ApiClient(server, API_KEY) as client:
        answers = [client.predict(r) for r in requests]
        batch = client.predict_batch(requests)
        info = client.model()
    assert [a.request_id for a in answers] == [r.request_id for r in requests]
    assert all(a.model_name == "skeleton" and a.mode == "skeleton" for a in answers)
    score = MODELS.score_field
    assert [getattr(a, score) for a in batch.items] == [getattr(a, score) for a in answers]
    assert all(isinstance(a, MODELS.response) for a in answers)
    assert info.fallback.name == "skeleton"


def test_feedback_round_trip(server: str) -> None:
    with ApiClient(server, API_KEY) as client:
        ack = client.send_feedback(
            MODELS.feedback(request_id="example-1", observed_label=0, observed_at=datetime.now(UTC))
        )
    assert ack.accepted


def test_errors_become_typed_exceptions(server: str) -> None:
    with ApiClient(server, "not-a-valid-key-000000") as client, pytest.raises(ApiError) as err:
        client.model()
    assert (err.value.status, err.value.code, err.value.field) == (401, "unauthorized", "X-API-Key")
    purpose = MODELS.enums["LoanPurpose"]
    request = MODELS.request.model_construct(
        customer_id=1, loan_amount=-1.0, term_months=12, purpose=purpose("car"), declared_income=1.0
    )
    with ApiClient(server, API_KEY) as client, pytest.raises(ApiError) as bad:
        client.predict(request)
    assert (bad.value.status, bad.value.field) == (422, "loan_amount")


def test_command_line_prints_one_line_per_answer(
    server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STEELTHREAD_API_KEY", API_KEY)
    assert main(["--url", server]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(example_requests())
    assert all("model=skeleton:0 mode=skeleton" in line for line in lines)
    # the credit example's names, read from its declaration: the entity key and the score field
    assert lines[0].startswith("example-1: customer_id 1 probability_of_default=0.100 decision=review")
