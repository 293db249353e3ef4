"""A slow client cannot hold a connection: headers and body each have a deadline.

Against a real `steelthread-serve` process (uvicorn with the app's protocol) over real sockets that send
part of a request and then nothing: a body that stops short of its declared length gets 408 and a closed
connection; headers that never complete get a closed connection.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError

from helpers.serving import API_KEY, APPLICATION, serve_env, serve_process
from steelthread_serving.settings import ServingSettings

DEADLINE_S = 1.0


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("timeouts")
    env = serve_env(
        tmp, STEELTHREAD_BODY_TIMEOUT_S=str(DEADLINE_S), STEELTHREAD_HEADER_TIMEOUT_S=str(DEADLINE_S)
    )
    with serve_process(env, tmp / "server.log") as server:
        yield server


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    started = time.monotonic()
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received, time.monotonic() - started


def test_a_body_that_stops_short_gets_408_and_a_closed_connection(url: str) -> None:
    with _connect(url) as sock:
        sock.sendall(
            b"POST /v1/predictions HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"X-API-Key: {API_KEY}\r\nContent-Length: 1000\r\n\r\n".encode()
            + b'{"partial"'
        )
        received, waited = _read_until_closed(sock)
    assert received.startswith(b"HTTP/1.1 408 ")
    assert b'"code":"request_timeout"' in received
    assert DEADLINE_S * 0.9 <= waited < DEADLINE_S + 5


def test_headers_that_never_complete_get_a_closed_connection(url: str) -> None:
    with _connect(url) as sock:
        sock.sendall(b"POST /v1/predictions HTTP/1.1\r\nHost: test\r\n")
        received, waited = _read_until_closed(sock)
    assert received == b""
    assert waited < DEADLINE_S + 5


def test_a_silent_connection_is_closed(url: str) -> None:
    with _connect(url) as sock:
        received, waited = _read_until_closed(sock)
    assert received == b""
    assert waited < DEADLINE_S + 5


def test_a_prompt_client_is_answered_and_kept_alive(url: str) -> None:
    with httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}, timeout=10) as c:
        first = c.post(
            "/v1/predictions",
            content=json.dumps(APPLICATION).encode(),
            headers={"content-type": "application/json"},
        )
        time.sleep(DEADLINE_S * 0.5)
        second = c.get("/v1/model")
    assert (first.status_code, second.status_code) == (200, 200)


def test_the_deadlines_are_settings() -> None:
    with pytest.raises(ValidationError, match="body_timeout_s"):
        ServingSettings(api_keys=[API_KEY], body_timeout_s=0)  # type: ignore[list-item]
