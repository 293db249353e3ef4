"""`STEELTHREAD_METRICS_PORT`: a real `steelthread-serve` process answers /metrics on that port from the
registry every request updates, and 404 on the API port; a metrics port it cannot use is one line and a
documented exit code, like the API's."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx

from helpers.serving import API_KEY, APPLICATION, free_port, serve_env, serve_process
from steelthread_serving.cli import ExitCode

SERVE = [str(Path(sys.executable).parent / "steelthread-serve")]


def _predictions_total(text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("steelthread_predictions_total{")
    )


def test_metrics_are_served_on_their_own_port_and_not_on_the_api_port(tmp_path: Path) -> None:
    metrics_port = free_port()
    env = serve_env(tmp_path, STEELTHREAD_METRICS_PORT=str(metrics_port))
    with serve_process(env, tmp_path / "server.log") as url:
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        before = httpx.get(metrics_url, timeout=5)
        with httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}, timeout=5) as c:
            answers = [c.post("/v1/predictions", json=APPLICATION).status_code for _ in range(3)]
            on_api_port = c.get("/metrics")
            document = c.get("/openapi.json").json()
        after = httpx.get(metrics_url, timeout=5)
    assert answers == [200, 200, 200]
    assert on_api_port.status_code == 404
    assert on_api_port.json()["code"] == "not_found"
    assert "/metrics" not in document["paths"]
    assert before.status_code == after.status_code == 200
    assert after.headers["content-type"].startswith("text/plain")
    # the registry the API's requests update, not a copy: the three answers are counted
    assert _predictions_total(after.text) - _predictions_total(before.text) == 3
    assert 'steelthread_http_requests_total{method="POST",route="/v1/predictions",status="200"} 3.0' in (
        after.text
    )


def test_without_a_metrics_port_metrics_stay_on_the_api_port(tmp_path: Path) -> None:
    with serve_process(serve_env(tmp_path), tmp_path / "server.log") as url:
        answer = httpx.get(f"{url}/metrics", timeout=5)
    assert answer.status_code == 200
    assert "steelthread_quota_refusals_total" in answer.text


def test_a_metrics_port_in_use_is_one_line_and_exit_4(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*SERVE, "--port", str(free_port())],
            env=serve_env(tmp_path, STEELTHREAD_METRICS_PORT=str(port)),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == int(ExitCode.PORT_IN_USE) == 4
    assert result.stderr.strip().splitlines() == [
        f"error: STEELTHREAD_METRICS_PORT: cannot listen on 127.0.0.1:{port}: the address is already in "
        "use (hint: stop the other server or choose another STEELTHREAD_METRICS_PORT)"
    ]


def test_the_api_port_as_metrics_port_is_a_usage_error(tmp_path: Path) -> None:
    port = free_port()
    result = subprocess.run(
        [*SERVE, "--port", str(port)],
        env=serve_env(tmp_path, STEELTHREAD_METRICS_PORT=str(port)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == int(ExitCode.USAGE)
    assert result.stderr.strip().splitlines() == [
        f"error: STEELTHREAD_METRICS_PORT: {port} is the API's port (--port); choose another"
    ]
