"""The client reads tomorrow's answers and retries what is safe to retry, against a real HTTP server.

A newer server may add a field to an answer or a value to an enum (compatible changes of v1): the client
must still parse it, reading an unknown value as its fallback. Idempotent calls are retried with backoff
on 429/503 and honour `Retry-After`; a call that is not idempotent (feedback, a prediction without its
own `request_id`) is sent once. The server here is a real one on loopback that answers from a script,
since no released server gives tomorrow's answers yet.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from steelthread_consumer_example.__main__ import example_requests
from steelthread_consumer_example.client import ApiClient, ApiError, credit_api
from steelthread_contracts import ErrorCode, ServingMode
from steelthread_contracts.api import DecisionSource

MODELS = credit_api()
FAIL_CLOSED = MODELS.use_case.policy.fallback
TODAY = {
    "request_id": "example-1",
    MODELS.score_field: 0.25,
    "decision": "approve",
    "decided_by": "package",
    "model_name": "credit-risk",
    "model_version": "3",
    "mode": "live",
    "degraded": False,
    "degraded_reason": None,
    "features": None,
}
TOMORROW = TODAY | {
    "mode": "interleaved",  # a serving mode this client does not know
    "decision": "escalate",  # a decision it does not know
    "decided_by": "committee",
    "degraded_reason": "quota_exhausted",
    "rationale": {"top_reasons": ["utilisation"]},  # a field it does not know
}

Script = list[tuple[int, dict[str, str], object]]


class Scripted:
    """A real HTTP server answering each request with the next (status, headers, body) of its script."""

    def __init__(self, script: Script) -> None:
        self.script = list(script)
        self.calls: list[tuple[str, str, float]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                outer.calls.append((self.command, self.path, time.monotonic()))
                status, headers, body = outer.script.pop(0) if outer.script else (500, {}, {})
                payload = json.dumps(body).encode()
                self.send_response(status)
                for name, value in ({"content-type": "application/json"} | headers).items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer  # noqa: N815 (http.server's names)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Scripted:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def request_with_id() -> object:
    return example_requests()[0]


def test_tomorrows_answer_parses_with_fallbacks(request_with_id: object) -> None:
    with Scripted([(200, {}, TOMORROW)]) as server, ApiClient(server.url, "k" * 20) as client:
        answer = client.predict(request_with_id)  # type: ignore[arg-type]
    assert answer.mode is ServingMode.SKELETON
    assert answer.decision == FAIL_CLOSED
    assert answer.decided_by is DecisionSource.FALLBACK
    assert answer.degraded_reason is None
    assert getattr(answer, MODELS.score_field) == 0.25
    assert not hasattr(answer, "rationale")


def test_todays_answer_is_read_as_it_is(request_with_id: object) -> None:
    with Scripted([(200, {}, TODAY)]) as server, ApiClient(server.url, "k" * 20) as client:
        answer = client.predict(request_with_id)  # type: ignore[arg-type]
    assert (answer.mode, answer.decision, answer.decided_by) == ("live", "approve", "package")


def test_tomorrows_batch_and_error_bodies_parse(request_with_id: object) -> None:
    error = {
        "code": "quota_exceeded",
        "message": "slow down",
        "field": None,
        "request_id": "r-1",
        "hint": "x",
    }
    script: Script = [(200, {}, {"items": [TOMORROW, TODAY], "cursor": None}), (403, {}, error)]
    with Scripted(script) as server, ApiClient(server.url, "k" * 20) as client:
        batch = client.predict_batch([request_with_id, request_with_id])  # type: ignore[list-item]
        with pytest.raises(ApiError) as refused:
            client.predict(request_with_id)  # type: ignore[arg-type]
    assert [a.mode for a in batch.items] == ["skeleton", "live"]
    assert (refused.value.status, refused.value.code, refused.value.request_id) == (
        403,
        ErrorCode.INTERNAL_ERROR,
        "r-1",
    )


def _busy(status: int, retry_after: str | None = None) -> tuple[int, dict[str, str], object]:
    headers = {"retry-after": retry_after} if retry_after else {}
    code = "not_ready" if status == 503 else "internal_error"
    return status, headers, {"code": code, "message": "busy", "field": None, "request_id": None}


def test_idempotent_calls_are_retried_with_backoff_and_retry_after(request_with_id: object) -> None:
    script: Script = [_busy(503), _busy(429, "0.3"), (200, {}, TODAY)]
    with Scripted(script) as server, ApiClient(server.url, "k" * 20, backoff_s=0.01) as client:
        answer = client.predict(request_with_id)  # type: ignore[arg-type]
    assert answer.request_id == "example-1"
    times = [t for _, _, t in server.calls]
    assert len(times) == 3
    assert times[2] - times[1] >= 0.3  # the server's Retry-After, not the shorter backoff


def test_retries_stop_after_the_attempts(request_with_id: object) -> None:
    with (
        Scripted([_busy(503)] * 5) as server,
        ApiClient(server.url, "k" * 20, backoff_s=0.01) as client,
        pytest.raises(ApiError) as busy,
    ):
        client.model()
    assert busy.value.status == 503
    assert len(server.calls) == 3


def test_calls_that_are_not_idempotent_are_sent_once() -> None:
    record = MODELS.feedback(request_id="example-1", observed_label=0, observed_at=datetime.now(UTC))
    no_id = example_requests()[0].model_copy(update={"request_id": None})
    with Scripted([_busy(503), _busy(503)]) as server, ApiClient(server.url, "k" * 20) as client:
        with pytest.raises(ApiError):
            client.send_feedback(record)
        with pytest.raises(ApiError):
            client.predict(no_id)
    assert [path for _, path, _ in server.calls] == ["/v1/feedback", "/v1/predictions"]
