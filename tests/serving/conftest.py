"""Fixtures for serving tests: a real uvicorn server on loopback and a real HTTP client."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from helpers.serving import API_KEY, OTHER_KEY, Live, free_port
from steelthread_serving.app import create_app
from steelthread_serving.settings import DEFAULT_FLAGS_PATH, ServingSettings


@pytest.fixture
def flags_file(tmp_path: Path) -> Path:
    path = tmp_path / "flags.json"
    shutil.copy(DEFAULT_FLAGS_PATH, path)
    return path


@pytest.fixture
def settings(tmp_path: Path, flags_file: Path) -> ServingSettings:
    return ServingSettings(
        data_dir=tmp_path / "var",
        api_keys=[API_KEY, OTHER_KEY],  # type: ignore[list-item]
        flags_path=flags_file,
        flags_poll_ms=50,
        max_body_bytes=256 * 1024,
    )


@pytest.fixture
def live(settings: ServingSettings, flags_file: Path) -> Iterator[Live]:
    """The app under a real uvicorn server in a thread, shut down (and flushed) after the test."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield Live(url=f"http://127.0.0.1:{port}", settings=settings, flags_path=flags_file)
    server.should_exit = True
    thread.join(timeout=15)
