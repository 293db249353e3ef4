"""Shared helpers for tests that talk to the serving app over real HTTP."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from helpers.usecase import example_request
from steelthread_contracts import ServingMode
from steelthread_contracts.usecase import USECASE_ENV, active_name
from steelthread_serving.app import create_app
from steelthread_serving.flags import set_flags
from steelthread_serving.settings import DEFAULT_FLAGS_PATH, ServingSettings

API_KEY = "test-key-0123456789abcdef"
OTHER_KEY = "second-key-0123456789abcdef"
APPLICATION = example_request(42)
"""A valid request of the active use case (entity 42, each field's declared example)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_flags(path: Path, mode: str, fraction: float = 0.0) -> None:
    """Change the flag file the way an operator would (the app's own `set_flags`)."""
    set_flags(path, ServingMode(mode), fraction)


def read_log(directory: Path) -> list[dict[str, object]]:
    records = []
    for file in sorted(directory.glob("predictions-*.jsonl")):
        records.extend(json.loads(line) for line in file.read_text().splitlines() if line)
    return records


@dataclass
class Live:
    url: str
    settings: ServingSettings
    flags_path: Path

    def client(self, key: str | None = API_KEY) -> httpx.Client:
        headers = {"X-API-Key": key} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=5.0)


@contextmanager
def running(settings: ServingSettings) -> Iterator[Live]:
    """The app under a real uvicorn server in a thread, ready, then shut down (and flushed)."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not become ready")
        if server.started and httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
            break
        time.sleep(0.02)
    try:
        yield Live(url=url, settings=settings, flags_path=settings.flags_path)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def serves(live: Live, champion: str, stable: str | None) -> bool:
    """Whether /v1/model reports these champion and stable versions (stable None: no stable)."""
    with live.client() as c:
        info = c.get("/v1/model").json()
    return bool(info["champion"]["version"] == champion and (info["stable"] or {}).get("version") == stable)


def serve_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a `steelthread-serve` process with its state and a copy of the shipped flag file
    (`tmp_path/flags.json`) under tmp_path; `extra` overrides."""
    flags = tmp_path / "flags.json"
    shutil.copy(DEFAULT_FLAGS_PATH, flags)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")}
    env |= {
        USECASE_ENV: active_name(),
        "STEELTHREAD_API_KEYS": API_KEY,
        "STEELTHREAD_DATA_DIR": str(tmp_path / "var"),
        "STEELTHREAD_FLAGS_PATH": str(flags),
    }
    return env | extra


@contextmanager
def serve_process(env: Mapping[str, str], log: Path, ready_within: float = 30.0) -> Iterator[str]:
    """A real `steelthread-serve` process with `env`, its output in `log`, until it answers /readyz: its
    URL. A process of its own where the test needs one (another use case, a signal); stopped on exit.
    The process serves the session's use case unless `env` names another."""
    port = free_port()
    env = {USECASE_ENV: active_name()} | dict(env)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "steelthread_serving.cli", "--port", str(port), "--log-level", "warning"],
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_within
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(log.read_text())
        time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def body(request: Any) -> dict[str, object]:
    """A request model as the JSON body a client sends."""
    answer: dict[str, object] = request.model_dump(mode="json", exclude_none=True)
    return answer


def wait_until(check: Callable[[], object], timeout: float = 15.0) -> None:
    """Poll `check` until it is true (a model swap, a flag change), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
