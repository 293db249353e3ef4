"""The deployment mechanics of `_deploy.yml`, run against a real serving app and a real Prometheus on
loopback: the flag file written by serving_flags.py changes the mode without a restart, smoke_check.py
waits for it and sends contract-valid predictions, and slo_check.py reads the app's own metrics."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from helpers.usecase import SCORE_FIELD, example_request

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / ".github" / "scripts"
KEY = "workflow-smoke-key-0123456789"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer 200 within {seconds} s")


@dataclass
class Served:
    url: str
    flags: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("serving")
    flags = tmp / "flags.json"
    shutil.copy(ROOT / "apps" / "serving" / "flags.json", flags)
    port = _free_port()
    serve = Path(sys.executable).with_name("steelthread-serve")
    assert serve.exists(), f"{serve} missing: run `make setup`"
    env = {
        **os.environ,
        "STEELTHREAD_API_KEYS": KEY,
        "STEELTHREAD_DATA_DIR": str(tmp / "var"),
        "STEELTHREAD_FLAGS_PATH": str(flags),
    }
    log = (tmp / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(serve), "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(f"http://127.0.0.1:{port}/healthz", 60)
        yield Served(f"http://127.0.0.1:{port}", flags)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def _script(name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env={**os.environ, "STEELTHREAD_SMOKE_API_KEY": KEY},
    )


def _set_mode(served: Served, mode: str, fraction: str = "0") -> None:
    result = _script(
        "serving_flags",
        "--base",
        str(served.flags),
        "--mode",
        mode,
        "--canary-fraction",
        fraction,
        "--out",
        str(served.flags),
    )
    assert result.returncode == 0, result.stderr


def test_smoke_passes_in_each_mode_the_flag_file_sets(served: Served) -> None:
    for mode, fraction in (("skeleton", "0"), ("shadow", "0"), ("canary", "0.25"), ("skeleton", "0")):
        _set_mode(served, mode, fraction)
        result = _script(
            "smoke_check",
            "--base-url",
            served.url,
            "--expect-mode",
            mode,
            "--wait-seconds",
            "30",
            "--poll-seconds",
            "0.2",
        )
        assert result.returncode == 0, f"{mode}: {result.stderr}"
        assert result.stdout.count(f"mode={mode}") == 3
        assert result.stdout.count(f" {SCORE_FIELD}=") == 3  # each answer's score, by the use case's name


def test_smoke_fails_when_the_expected_version_never_shows(served: Served) -> None:
    result = _script(
        "smoke_check",
        "--base-url",
        served.url,
        "--expect-version",
        "999",
        "--wait-seconds",
        "1",
        "--poll-seconds",
        "0.2",
    )
    assert result.returncode == 1
    assert "expected '999'" in result.stderr
    assert "Traceback" not in result.stderr


def test_smoke_fails_on_a_wrong_api_key(served: Served) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "smoke_check.py"), "--base-url", served.url, "--wait-seconds", "0"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "STEELTHREAD_SMOKE_API_KEY": "not-the-key-0123456789"},
    )
    assert result.returncode == 1
    assert "401" in result.stderr


@pytest.fixture(scope="module")
def prometheus(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed (Debian package `prometheus`; `make tools` installs it)"
    tmp = tmp_path_factory.mktemp("prometheus")
    port = _free_port()
    target = served.url.removeprefix("http://")
    (tmp / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: serving\n    static_configs:\n      - targets: ['{target}']\n",
        encoding="utf-8",
    )
    log = (tmp / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(f"http://127.0.0.1:{port}/-/ready", 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _predict(served: Served, count: int) -> None:
    body = example_request(entity=7)
    with httpx.Client(base_url=served.url, headers={"X-API-Key": KEY}, timeout=5.0) as client:
        for _ in range(count):
            assert client.post("/v1/predictions", json=body).status_code == 200


def _scraped(prometheus: str, query: str, at_least: float, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=5).json()
        values = result["data"]["result"]
        if values and float(values[0]["value"][1]) >= at_least:
            return
        time.sleep(0.5)
    raise AssertionError(f"Prometheus never saw {query} >= {at_least}")


def test_slo_check_reads_the_serving_apps_real_metrics(served: Served, prometheus: str) -> None:
    _set_mode(served, "skeleton")
    _predict(served, 5)  # creates the labelled series before the counted traffic
    _scraped(prometheus, "sum(steelthread_predictions_total)", 5)
    time.sleep(2)
    _predict(served, 40)
    _scraped(prometheus, "sum(steelthread_predictions_total)", 45)
    time.sleep(2)
    ok = _script("slo_check", "--prometheus-url", prometheus, "--window", "1m", "--min-predictions", "20")
    assert ok.returncode == 0, ok.stderr
    assert "all SLOs held" in ok.stdout
    strict = _script(
        "slo_check",
        "--prometheus-url",
        prometheus,
        "--window",
        "1m",
        "--min-predictions",
        "20",
        "--max-p99-seconds",
        "0.0000001",
    )
    assert strict.returncode == 1
    assert "p99 prediction latency" in strict.stderr
    starved = _script(
        "slo_check", "--prometheus-url", prometheus, "--window", "1m", "--min-predictions", "1e9"
    )
    assert starved.returncode == 1
    assert "predictions in 1m" in starved.stderr
