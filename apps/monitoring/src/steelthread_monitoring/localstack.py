"""A loopback deployment to rehearse alerts and runbooks: the serving app plus a real Prometheus.

Prometheus is started with the repository's own `infra/prometheus/prometheus.yml` and rules, only with the
scrape target pointed at a local serving process, so what is rehearsed is what ships. Used by the test
suite (tests/monitoring, tests/runbooks) and usable by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SERVING_JOB = "steelthread-serving"


class StackError(RuntimeError):
    """A process of the local stack did not start; the message carries its log tail."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback http only)
        return json.loads(response.read())


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"{proc.args!r} exited {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    proc.kill()
    raise StackError(f"{url} not ready within {seconds:.0f} s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_serving(
    data_dir: Path, flags_path: Path, api_key: str, workdir: Path, port: int | None = None
) -> Process:
    """`steelthread-serve` on loopback with its state under data_dir."""
    port = port or free_port()
    serve = shutil.which("steelthread-serve", path=str(Path(sys.executable).parent))
    if serve is None:
        raise StackError("steelthread-serve is not installed in this environment")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")}
    env |= {
        "STEELTHREAD_API_KEYS": api_key,
        "STEELTHREAD_DATA_DIR": str(data_dir),
        "STEELTHREAD_FLAGS_PATH": str(flags_path),
    }
    log = workdir / "serving.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [serve, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    _wait(f"{url}/readyz", proc, log, 60)
    return Process(proc, url, log)


def local_config(source: Path, serving_target: str, workdir: Path) -> Path:
    """The shipped config with loopback targets and absolute rule paths; nothing else changes."""
    config = yaml.safe_load(source.read_text())
    config["global"]["scrape_interval"] = "1s"
    config["global"]["evaluation_interval"] = "1s"
    config["rule_files"] = [str((source.parent / p).resolve()) for p in config["rule_files"]]
    for job in config["scrape_configs"]:
        if job["job_name"] == SERVING_JOB:
            job["static_configs"] = [{"targets": [serving_target]}]
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def start_prometheus(
    binary: str, config_source: Path, serving_target: str, workdir: Path, port: int | None = None
) -> Process:
    """A real Prometheus on loopback with a throwaway storage folder."""
    port = port or free_port()
    config = local_config(config_source, serving_target, workdir)
    storage = workdir / "prometheus-data"
    storage.mkdir(exist_ok=True)
    log = workdir / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={storage}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    _wait(f"{url}/-/ready", proc, log, 60)
    return Process(proc, url, log)


def wait_for_target_up(prometheus_url: str, job: str = SERVING_JOB, seconds: float = 30) -> dict[str, Any]:
    """Block until Prometheus has scraped the job's target successfully; return the target."""
    deadline = time.monotonic() + seconds
    last: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        last = get_json(f"{prometheus_url}/api/v1/targets")["data"]["activeTargets"]
        for target in last:
            if target["labels"].get("job") == job and target["health"] == "up":
                return dict(target)
        time.sleep(0.2)
    raise StackError(f"target of job {job} not up within {seconds:.0f} s: {last}")
