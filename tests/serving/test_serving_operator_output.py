"""What an operator sees of a real `steelthread-serve` process: one line and a documented exit code for a
port in use and for a usage error, exit 0 after a graceful SIGTERM/SIGINT, JSON log lines with event names
(model swap, degraded answers once per interval with a repeat count) and an access log that is off unless
switched on."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from helpers.packages import make_package, publish
from helpers.serving import API_KEY, free_port, serve_env, serve_process, write_flags
from helpers.usecase import example_request
from steelthread_serving.cli import ExitCode

SERVE = [str(Path(sys.executable).parent / "steelthread-serve")]
"""The installed console script, as an operator runs it."""


def _lines(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()]  # every line is one JSON object


def _serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SERVE, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_port_in_use_is_one_line_and_exit_4(tmp_path: Path) -> None:
    env = serve_env(tmp_path)
    with serve_process(env, tmp_path / "first.log") as url:
        port = url.rsplit(":", 1)[1]
        second = _serve(env, "--port", port)
    assert second.returncode == int(ExitCode.PORT_IN_USE) == 4
    assert second.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: the address is already in use "
        "(hint: stop the other server or choose another --port)"
    ]
    assert "Traceback" not in second.stdout + second.stderr
    assert "terminate called" not in second.stderr


@pytest.mark.parametrize("args", [["--bogus"], ["--port", "99999"]])
def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = _serve(serve_env(tmp_path), *args)
    assert result.returncode == int(ExitCode.USAGE) == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert lines[0].endswith("(see `steelthread-serve --help`)")
    assert "╭" not in result.stderr  # no Typer panel


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_graceful_stop_exits_0(tmp_path: Path, stop: signal.Signals) -> None:
    env = serve_env(tmp_path)
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*SERVE, "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        assert proc.poll() is None, log.read_text()
        time.sleep(0.05)
    proc.send_signal(stop)
    assert proc.wait(timeout=60) == int(ExitCode.OK) == 0
    stopped = [line for line in _lines(log) if line.get("event") == "server_stopped"]
    assert [line["signal"] for line in stopped] == [stop.name]


def _live_server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Live mode with a published champion and no online store materialised: every answer is degraded."""
    env = serve_env(tmp_path, **extra)
    models = tmp_path / "var" / "models"
    make_package(models, "1")
    publish(models, "champion", "1")
    write_flags(Path(env["STEELTHREAD_FLAGS_PATH"]), "live")
    return env


def test_degraded_answers_log_once_per_interval_with_a_count(tmp_path: Path) -> None:
    env = _live_server_env(tmp_path, STEELTHREAD_LOG_REPEAT_INTERVAL_S="2")
    log = tmp_path / "server.log"
    with serve_process(env, log) as url, httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}) as c:
        reasons = set()
        for _ in range(30):
            answer = c.post("/v1/predictions", json=example_request()).json()
            assert answer["degraded"] is True, answer
            reasons.add(answer["degraded_reason"])
        time.sleep(2.5)
        last = c.post("/v1/predictions", json=example_request()).json()
    lines = _lines(log)
    swaps = [line for line in lines if line.get("event") == "model_swap"]
    assert [(s["role"], s["model_version"]) for s in swaps] == [("champion", "1")]
    degraded = [line for line in lines if line.get("event") == "degraded"]
    assert [line["reason"] for line in degraded] == [last["degraded_reason"]] * 2  # one per interval
    first, second = degraded
    assert (first["mode"], first["model_version"]) == ("live", last["model_version"])
    assert "repeated" not in first
    assert second["repeated"] == 29  # the requests after the first in the first interval
    assert str(second["message"]).endswith("(repeated 29 times)")
    assert second["request_id"] == last["request_id"]
    assert len(reasons) == 1


def test_the_access_log_is_off_by_default_and_switchable(tmp_path: Path) -> None:
    for switch, expected in ((None, 0), ("true", 2)):
        folder = tmp_path / str(switch)
        folder.mkdir()
        env = serve_env(folder, **({} if switch is None else {"STEELTHREAD_ACCESS_LOG": switch}))
        log = folder / "server.log"
        with serve_process(env, log) as url, httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}) as c:
            answer = c.post("/v1/predictions", json=example_request()).json()
            assert c.get("/v1/model").status_code == 200
        access = [line for line in _lines(log) if line.get("event") == "access"]
        access = [line for line in access if line["path"] != "/readyz"]  # the helper's readiness polls
        assert len(access) == expected, access
        if expected:
            predict, model = access
            assert (predict["method"], predict["path"], predict["status"]) == ("POST", "/v1/predictions", 200)
            assert predict["request_id"] == answer["request_id"]
            assert (predict["mode"], predict["model_version"]) == (answer["mode"], answer["model_version"])
            assert (model["path"], model["status"]) == ("/v1/model", 200)
            assert "request_id" not in model
