"""The consumer's command line without a server: an unreachable URL and a missing API key are one-line
errors with their own exit codes, never a traceback.

Runs with the consumer installed alone; the tests against a real server are in
tests/consumer/test_consumer_example.py at the root, where cross-member tests live.
"""

from __future__ import annotations

import socket

import pytest

from steelthread_consumer_example.__main__ import example_requests, main
from steelthread_consumer_example.client import API_USE_CASE, credit_api
from steelthread_contracts.usecase import USECASE_ENV

API_KEY = "test-key-0123456789abcdef"


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_command_line_explains_unreachable_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STEELTHREAD_API_KEY", API_KEY)
    assert main(["--url", f"http://127.0.0.1:{_unused_port()}"]) == 1
    assert capsys.readouterr().err.startswith("error: cannot reach")


def test_command_line_without_an_api_key_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STEELTHREAD_API_KEY", raising=False)
    assert main([]) == 2


def test_the_example_requests_are_the_credit_apis_whatever_the_process_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client speaks one service's contract: `STEELTHREAD_USECASE` (what a steelthread process serves)
    does not change it, even when it names nothing installed."""
    monkeypatch.setenv(USECASE_ENV, "no-such-case")
    models = credit_api()
    requests = example_requests()
    assert models.use_case.name == API_USE_CASE
    assert all(isinstance(r, models.request) for r in requests)
    assert [r.model_dump()[models.join_key] for r in requests] == [1, 2, 3, 4]
