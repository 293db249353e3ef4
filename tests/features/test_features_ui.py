"""`feast ui` starts on the project's feature repo and serves its page (grpc_health comes with the
`feast[grpcio]` extra in the lock; without it the command crashed at import)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from helpers.serving import free_port

FEAST = Path(sys.executable).with_name("feast")


def test_feast_ui_serves_the_feature_repo(world, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "feast-ui.log"
    repo = world.settings.feast_dir
    assert (repo / "feature_store.yaml").is_file()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(FEAST), "-c", str(repo), "ui", "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
            start_new_session=True,
        )
    try:
        page = projects = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                projects = httpx.get(f"http://127.0.0.1:{port}/projects-list.json", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        assert page is not None
        assert page.status_code == 200
        assert "<html" in page.text.lower()
        assert projects is not None
        assert projects.status_code == 200
        assert world.settings.project in {p["id"] for p in projects.json()["projects"]}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
