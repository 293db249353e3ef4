"""The consumer's command line without a server: an unreachable URL and a missing API key are one-line
errors with their own exit codes, never a traceback.

Runs with the consumer installed alone; the tests against a real server are in
tests/consumer/test_consumer_example.py at the root, where cross-member tests live.
"""

from __future__ import annotations

import socket

import pytest

from steelthread_consumer_example.__main__ import main

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
