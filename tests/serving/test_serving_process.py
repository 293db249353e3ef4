"""The real console script: start-up, bad configuration, and no lost log record across SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from helpers.serving import API_KEY, APPLICATION, free_port, read_log, serve_env
from helpers.usecase import USE_CASE

SERVE = [sys.executable, "-m", "steelthread_serving.cli"]


def start(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*SERVE, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=serve_env(tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not become ready in 30 s")


def test_sigterm_during_traffic_loses_no_log_record(tmp_path: Path) -> None:
    port = free_port()
    proc = start(tmp_path, port)
    answered = 0
    lock = threading.Lock()
    stop = threading.Event()

    def hammer() -> None:
        nonlocal answered
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": API_KEY}) as c:
            while not stop.is_set():
                try:
                    r = c.post("/v1/predictions", json=APPLICATION, timeout=5)
                except httpx.TransportError:
                    return  # the server is going away
                if r.status_code == 200:
                    with lock:
                        answered += 1

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    # uvicorn finishes in-flight requests and runs the lifespan shutdown; a graceful stop exits 0.
    assert proc.wait(timeout=30) == 0
    stop.set()
    for t in threads:
        t.join(timeout=10)
    records = read_log(tmp_path / "var" / "prediction-log")
    assert answered > 20
    assert len(records) == answered
    assert len({r["request_id"] for r in records}) == answered


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"STEELTHREAD_API_KEYS": "changeme"}, "STEELTHREAD_API_KEYS"),
        ({"STEELTHREAD_API_KEYS": ""}, "STEELTHREAD_API_KEYS"),
        # a constant outside the use case's score range
        ({"STEELTHREAD_SKELETON_SCORE": str(USE_CASE.score_range[1] + 0.5)}, "STEELTHREAD_SKELETON_SCORE"),
        ({"STEELTHREAD_FLAGS_PATH": "/nonexistent/flags.json"}, "STEELTHREAD_FLAGS_PATH"),
        ({"STEELTHREAD_PROFILE": "staging"}, "STEELTHREAD_PROFILE"),
    ],
)
def test_bad_configuration_exits_2_with_one_line(tmp_path: Path, env: dict[str, str], needle: str) -> None:
    result = subprocess.run(
        [*SERVE, "--port", str(free_port())],
        env=serve_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {needle}")
    assert "Traceback" not in result.stderr + result.stdout


def test_importing_the_app_module_builds_nothing(tmp_path: Path) -> None:
    code = "import steelthread_serving.app, steelthread_serving.api; print('ok')"
    env = serve_env(tmp_path, STEELTHREAD_API_KEYS="")  # invalid settings must not matter on import
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "ok"
    assert not (tmp_path / "var").exists()
