"""`make demo`: the main job end to end on embedded defaults, with a timing per step.

Today's loop: start the serving app in skeleton mode, send the consumer example's applications through the
typed client, print the answers, and stop the server (flushing the prediction log). Later steps (data, Feast,
training, promotion, modes, monitoring) plug in as more `Step`s.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from steelthread_consumer_example.__main__ import example_requests
from steelthread_consumer_example.client import CreditRiskClient
from steelthread_contracts import PredictionResponse

ROOT = Path(__file__).resolve().parents[1]
console = Console()


@dataclass
class DemoState:
    data_dir: Path
    api_key: str = field(default_factory=lambda: f"demo-{secrets.token_hex(16)}")
    url: str = ""
    answers: list[PredictionResponse] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def step(name: str, timings: list[tuple[str, float]]) -> Iterator[None]:
    console.print(f"[bold cyan]→[/] {name} …")
    started = time.perf_counter()
    yield
    elapsed = time.perf_counter() - started
    timings.append((name, elapsed))
    console.print(f"  [green]done[/] in {elapsed:.2f} s")


@contextmanager
def serving(state: DemoState) -> Iterator[subprocess.Popen[bytes]]:
    flags = state.data_dir / "flags.json"
    shutil.copy(ROOT / "apps" / "serving" / "flags.json", flags)
    port = free_port()
    env = os.environ | {
        "STEELTHREAD_API_KEYS": state.api_key,
        "STEELTHREAD_DATA_DIR": str(state.data_dir),
        "STEELTHREAD_FLAGS_PATH": str(flags),
    }
    log = (state.data_dir / "serving.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "steelthread_serving.cli", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    state.url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(state.url, proc)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("error: the serving app exited during start-up; see var/demo/serving.log")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"error: the serving app was not ready after {timeout:.0f} s")


def send_examples(state: DemoState) -> None:
    with CreditRiskClient(state.url, state.api_key) as client:
        state.answers = [client.predict(request) for request in example_requests()]


def show_answers(state: DemoState) -> None:
    table = Table(title="Answers from the skeleton API")
    for column in ("request", "p(default)", "decision", "model", "mode", "degraded"):
        table.add_column(column)
    for a in state.answers:
        table.add_row(
            a.request_id,
            f"{a.probability_of_default:.3f}",
            a.decision.value,
            f"{a.model_name}:{a.model_version}",
            a.mode.value,
            a.degraded_reason or "no",
        )
    console.print(table)


def count_logged(state: DemoState) -> int:
    files = (state.data_dir / "prediction-log").glob("predictions-*.jsonl")
    return sum(1 for f in files for line in f.read_text().splitlines() if line)


def main() -> int:
    data_dir = Path(os.environ.get("STEELTHREAD_DEMO_DIR", ROOT / "var" / "demo"))
    if data_dir.exists():
        shutil.rmtree(data_dir)  # idempotent: every run starts from the same empty state
    data_dir.mkdir(parents=True)
    state = DemoState(data_dir=data_dir)
    timings: list[tuple[str, float]] = []
    steps: list[tuple[str, Callable[[DemoState], None]]] = [
        ("send the consumer example's applications", send_examples),
        ("print the answers", show_answers),
    ]
    total = time.perf_counter()
    with ExitStack() as stack:
        with step("start the serving app in skeleton mode", timings):
            stack.enter_context(serving(state))
        for name, action in steps:
            with step(name, timings):
                action(state)
    logged = count_logged(state)
    summary = Table(title="steelthread demo summary")
    summary.add_column("step")
    summary.add_column("seconds", justify="right")
    for name, seconds in timings:
        summary.add_row(name, f"{seconds:.2f}")
    summary.add_row("[bold]total[/]", f"[bold]{time.perf_counter() - total:.2f}[/]")
    console.print(summary)
    console.print(
        f"requests answered: {len(state.answers)}, prediction-log records: {logged}"
        f" ({'equal' if logged == len(state.answers) else 'MISMATCH'}); state in {data_dir}"
    )
    return 0 if logged == len(state.answers) else 1


if __name__ == "__main__":
    sys.exit(main())
