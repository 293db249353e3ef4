"""Seldon MLServer with its LightGBM runtime as a contender of bench_serving (issue 22): its pinned
environment, its model repository, its V2 inference request, and the check that it answers with the
live package's own model.

Its own environment (`var/bench/mlserver`, created by the bench with uv on first use, found there later):
MLServer cannot join the workspace's one lock. As a `bench-mlserver` dependency group, MLServer 1.7.1
has no solution there (it requires FastAPI below 0.116, the serving app 0.116 or later), and left
unpinned uv falls back to an old MLServer and moves a pin the workspace already has. The versions are the
constants below, exactly; LightGBM is the workspace's own version, so the runtime reads the booster with
the library that trained it. Everything they pull in is pinned too, in `LOCK`
(`bench/mlserver-requirements.txt`, from `uv pip compile`; `python bench/seldon_mlserver.py lock` writes it
again), and the environment is synced to it exactly, so two runs months apart measure the same MLServer.
The bench prints and records the versions it ran.

In-process (`parallel_workers: 0` in settings.json): MLServer's default pool of inference worker
processes fails to start on this Python (each worker asks for the current event loop before one exists,
which the uvloop installed beside it refuses, and the server shuts down), so its requests are answered in
the server process, which is also what the bench's CPU time per answer then measures. Everything else is
MLServer's default (its gRPC and metrics servers run beside the REST one, on ports of their own), except
`debug`, off, which turns off its access log as every other server of the bench runs without one, and
one OpenMP thread (`THREADS`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

MLSERVER_VERSION = "1.7.1"
MLSERVER_LIGHTGBM_VERSION = "1.7.1"
ENV_DIR = Path(__file__).resolve().parents[1] / "var" / "bench" / "mlserver"
"""The isolated environment: ignored by git (var/), kept between runs so that only the first one installs."""
LOCK = Path(__file__).resolve().with_name("mlserver-requirements.txt")
"""Every package of the environment, exactly: `requirements()` resolved by `uv pip compile`."""
LOCK_COMMAND = "python bench/seldon_mlserver.py lock"
THREADS = {"OMP_NUM_THREADS": "1"}
"""The runtime loads the booster from its file and predicts with LightGBM's default, OpenMP's every core,
whose threads spin against the server's own on a small machine and cost more than the prediction. Every
other server of the bench predicts on one thread (serving's onnxruntime session and the mlflow model,
trained with `n_jobs=1`), so MLServer does too: the comparison is of servers, not of thread settings."""
REPORTED = ("mlserver", "mlserver-lightgbm", "lightgbm", "fastapi", "uvicorn", "numpy")
"""The installed versions the bench prints and records, MLServer's own and what answers beside it."""


class MLServerUnavailableError(Exception):
    """MLServer could not be installed or started; the message says why, in one line."""


def requirements() -> list[str]:
    """What the environment installs: MLServer and its runtime exactly, and the workspace's LightGBM."""
    return [
        f"mlserver=={MLSERVER_VERSION}",
        f"mlserver-lightgbm=={MLSERVER_LIGHTGBM_VERSION}",
        f"lightgbm=={metadata.version('lightgbm')}",
    ]


def locked(lock: Path = LOCK) -> dict[str, str]:
    """The lock's pins by normalised package name."""
    pins: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        found = re.match(r"([A-Za-z0-9_.-]+)==([^\s;]+)", line)
        if found:
            pins[re.sub(r"[-_.]+", "-", found[1]).lower()] = found[2]
    return pins


def check_lock(lock: Path = LOCK) -> None:
    """The lock pins what `requirements()` asks for (the workspace's LightGBM may have moved since), or
    the error that says how to write it again."""
    pins = locked(lock)
    for requirement in requirements():
        name, version = requirement.split("==")
        if pins.get(name) != version:
            have = f"{name}=={pins[name]}" if name in pins else f"no {name}"
            raise MLServerUnavailableError(
                f"{lock.name} pins {have}, the bench needs {requirement}: run `{LOCK_COMMAND}`"
            )


def write_lock(lock: Path = LOCK) -> None:
    """Resolve `requirements()` with uv for this Python and write every pin to `lock`."""
    uv = shutil.which("uv")
    if uv is None:
        raise MLServerUnavailableError("uv is not on PATH (it resolves MLServer's environment)")
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    done = subprocess.run(
        [uv, "pip", "compile", "-", "--quiet", "--python-version", minor, "--no-header", "-o", str(lock)],
        input="\n".join(requirements()) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip() or "no output").splitlines()[-1]
        raise MLServerUnavailableError(f"uv pip compile failed (exit {done.returncode}): {last}")
    header = (
        f"# MLServer's own environment for bench/bench_serving.py, every pin. Written by `{LOCK_COMMAND}`.\n"
    )
    lock.write_text(header + lock.read_text())


def _run(command: list[str], what: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise MLServerUnavailableError(f"{what} failed (exit {done.returncode}): {last}")
    return done.stdout


def environment(env_dir: Path = ENV_DIR) -> dict[str, str]:
    """Create the environment if it is missing and sync it to `LOCK` (a no-op, offline, once it is in
    sync); answer the installed versions of `REPORTED`. Bytecode is compiled at install, as
    `make setup` does for the workspace: with PYTHONDONTWRITEBYTECODE set, every start would recompile."""
    uv = shutil.which("uv")
    if uv is None:
        raise MLServerUnavailableError("uv is not on PATH (it creates MLServer's own environment)")
    python = env_dir / "bin" / "python"
    if not python.exists():
        _run([uv, "venv", "--quiet", "--python", sys.executable, str(env_dir)], f"uv venv {env_dir}")
    check_lock()
    _run(
        [uv, "pip", "sync", "--quiet", "--compile-bytecode", "--python", str(python), str(LOCK)],
        f"syncing {env_dir} to {LOCK.name} (delete the folder to start afresh)",
    )
    script = (
        "import importlib.metadata as m, json, sys; "
        "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    )
    versions: dict[str, str] = json.loads(_run([str(python), "-c", script, *REPORTED], "reading versions"))
    return versions


def write_repository(
    folder: Path, name: str, booster: str, *, http_port: int, grpc_port: int, metrics_port: int
) -> None:
    """MLServer's model repository: server settings.json and one LightGBM model called `name`
    (model-settings.json beside the booster, saved as LightGBM's text model file)."""
    model_dir = folder / name
    model_dir.mkdir(parents=True)
    (model_dir / "model.txt").write_text(booster)
    settings = {
        "host": "127.0.0.1",
        "http_port": http_port,
        "grpc_port": grpc_port,
        "metrics_port": metrics_port,
        "parallel_workers": 0,
        "debug": False,
    }
    (folder / "settings.json").write_text(json.dumps(settings, indent=2))
    model_settings = {
        "name": name,
        "implementation": "mlserver_lightgbm.LightGBMModel",
        "parameters": {"uri": "./model.txt", "version": "1"},
    }
    (model_dir / "model-settings.json").write_text(json.dumps(model_settings, indent=2))


def command(folder: Path, env_dir: Path = ENV_DIR) -> list[str]:
    """`mlserver start` of the repository, from the isolated environment."""
    return [str(env_dir / "bin" / "mlserver"), "start", str(folder)]


def process_env() -> dict[str, str]:
    """The server's environment: the bench's own, with one OpenMP thread (`THREADS`)."""
    return dict(os.environ) | THREADS


EXCEPTION_LINE = re.compile(r"^[\w.]*(?:Error|Exception): .+")


def failure(log: str) -> str:
    """The line of a start-up log that says why: the first exception with a message (the cause comes
    before the shutdown's own tracebacks), else the last line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return next((line for line in lines if EXCEPTION_LINE.match(line)), lines[-1] if lines else "(no log)")


def infer_path(name: str) -> str:
    return f"/v2/models/{name}/infer"


def ready_path(name: str) -> str:
    return f"/v2/models/{name}/ready"


def infer_body(rows: Sequence[Sequence[float]]) -> str:
    """A V2 inference request: one FP32 tensor of the rows, as the live model's own input is."""
    width = len(rows[0])
    tensor = {
        "name": "features",
        "shape": [len(rows), width],
        "datatype": "FP32",
        "data": [float(v) for row in rows for v in row],
    }
    return json.dumps({"inputs": [tensor]})


def scores(answer: dict[str, Any]) -> list[float]:
    """The runtime's `predict` output: the positive class's probability per row for a binary booster."""
    outputs = {o["name"]: o for o in answer.get("outputs", [])}
    if "predict" not in outputs:
        raise MLServerUnavailableError(f"MLServer answered without a `predict` output: {answer}")
    return [float(v) for v in outputs["predict"]["data"]]


if __name__ == "__main__":
    if sys.argv[1:] != ["lock"]:
        raise SystemExit(f"usage: {LOCK_COMMAND}")
    try:
        write_lock()
    except MLServerUnavailableError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"wrote {LOCK}")
