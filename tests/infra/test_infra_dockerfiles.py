"""Dockerfiles: each installs only its member's locked dependencies, runs as non-root, serving has a healthcheck.

No Docker engine (and no hadolint) here: the Dockerfiles are parsed into instructions (continuations joined,
comments dropped) and the rules are checked on those.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from steelthread_monitoring.skew import callable_source

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "infra" / "docker"
# image -> (workspace member, extras, console script the image runs by default); `postgres` is the
# PostgreSQL prediction log (serving writes it, monitoring reads it); `explain` is LightGBM, for serving's
# explanations from a package's booster
IMAGES = {
    "serving": ("steelthread-serving", ("cpu", "postgres", "explain"), "steelthread-serve"),
    "serving-gpu": ("steelthread-serving", ("gpu", "postgres", "explain"), "steelthread-serve"),
    "training": ("steelthread-training", (), "steelthread-train"),
    "monitoring": ("steelthread-monitoring", ("postgres",), "steelthread-monitor"),
    "batch": ("steelthread-batch", (), "steelthread-batch"),
}
ALSO_INSTALLED = {"monitoring": ("steelthread-features",)}
"""Workspace members an image installs beside its own: the monitoring job's skew check recomputes features
offline with steelthread-features (STEELTHREAD_MONITOR_OFFLINE_FEATURES_FN)."""
CLIS = {
    "steelthread-data",
    "steelthread-features",
    "steelthread-train",
    "steelthread-promote",
    "steelthread-audit",
    "steelthread-serve",
    "steelthread-monitor",
    "steelthread-batch",
}


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with line continuations joined and comments removed."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, rest = full.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    assert not pending, f"{path.name}: dangling line continuation"
    return out


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (k, _) in enumerate(steps) if k == "FROM"]
    return steps[starts[-1] :]


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list), "use the JSON exec form"
    assert all(isinstance(v, str) for v in value), "use the JSON exec form"
    return value


def dockerfile(image: str) -> Path:
    return DOCKER / f"{image}.Dockerfile"


def test_parser_joins_continuations_and_drops_comments(tmp_path: Path) -> None:
    path = tmp_path / "x.Dockerfile"
    path.write_text("# c\nFROM a AS b\nRUN one \\\n    # inner comment\n    && two\nUSER 1\n")
    assert instructions(path) == [("FROM", "a AS b"), ("RUN", "one && two"), ("USER", "1")]


def test_every_image_has_a_dockerfile_and_nothing_else_is_there() -> None:
    present = {p.name.removesuffix(".Dockerfile") for p in DOCKER.glob("*.Dockerfile")}
    assert present == set(IMAGES)
    for image in IMAGES:
        assert (DOCKER / f"{image}.Dockerfile.dockerignore").is_file(), f"{image}: no .dockerignore beside it"


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_installs_only_its_members_locked_dependencies(image: str) -> None:
    member, wanted, _ = IMAGES[image]
    syncs = [args for kind, args in instructions(dockerfile(image)) if kind == "RUN" and "uv sync" in args]
    assert len(syncs) == 1, f"{image}: exactly one uv sync"
    words = shlex.split(syncs[0].split("uv sync", 1)[1])
    assert "--locked" in words, "install what uv.lock pins, never re-resolve"
    assert words[words.index("--package") + 1] == member
    assert "--no-dev" in words
    assert "--all-packages" not in words
    assert "--all-extras" not in words
    extras = [words[i + 1] for i, w in enumerate(words) if w == "--extra"]
    assert extras == list(wanted)
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert any(member in str(v) for v in declared["tool"]["uv"]["sources"]), (
        f"{member} is no workspace member"
    )


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_installs_the_use_case_it_runs(image: str) -> None:
    """The plumbing finds its use case by entry point: an image without one cannot start. The use case is
    a build argument (default the credit example), installed beside the member and named at run time."""
    steps = instructions(dockerfile(image))
    assert "USECASE=credit" in [a for k, a in steps if k == "ARG"]
    (sync,) = [a for k, a in steps if k == "RUN" and "uv sync" in a]
    words = shlex.split(sync.split("uv sync", 1)[1])
    packages = [words[i + 1] for i, w in enumerate(words) if w == "--package"]
    assert packages[1:] == [*ALSO_INSTALLED.get(image, ()), "steelthread-usecase-${USECASE}"]
    assert (REPO / "usecases" / "credit" / "pyproject.toml").is_file()
    assert "usecases/ usecases/" in [a for k, a in steps if k == "COPY"]
    env = " ".join(a for k, a in final_stage(steps) if k == "ENV")
    assert "STEELTHREAD_USECASE=${USECASE}" in env


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_uv_comes_from_a_pinned_image_and_python_is_not_downloaded(image: str) -> None:
    steps = instructions(dockerfile(image))
    args = {a.split("=")[0].split()[0]: a for k, a in steps if k == "ARG"}
    assert re.fullmatch(r"UV_IMAGE=ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+", args["UV_IMAGE"])
    env = " ".join(a for k, a in steps if k == "ENV")
    assert "UV_PYTHON_DOWNLOADS=never" in env
    copies = [a for k, a in steps if k == "COPY"]
    assert "pyproject.toml uv.lock ./" in copies, "the lock file is part of the build"


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_runs_as_non_root(image: str) -> None:
    stage = final_stage(instructions(dockerfile(image)))
    users = [args for kind, args in stage if kind == "USER"]
    assert users, f"{image}: the final stage sets no USER"
    user = users[-1].split(":")[0]
    assert user.isdigit(), "numeric UID, so runAsNonRoot can verify it"
    assert int(user) >= 1000, "non-root, non-system UID"
    run_text = " ".join(args for kind, args in stage if kind == "RUN")
    assert f"--uid {user}" in run_text, "the UID must exist in the image"
    last_user_index = max(i for i, (k, _) in enumerate(stage) if k == "USER")
    assert all(k != "RUN" for k, _ in stage[last_user_index:]), "nothing runs as root after USER"


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_default_command_is_a_steelthread_cli(image: str) -> None:
    _, _, cli = IMAGES[image]
    stage = final_stage(instructions(dockerfile(image)))
    cmd = exec_form([a for k, a in stage if k == "CMD"][-1])
    assert cmd[0] == cli
    assert cli in CLIS


@pytest.mark.parametrize("image", ["serving", "serving-gpu"])
def test_serving_images_listen_on_8000_and_have_a_healthcheck(image: str) -> None:
    stage = final_stage(instructions(dockerfile(image)))
    assert ("EXPOSE", "8000") in stage
    health = [a for k, a in stage if k == "HEALTHCHECK"]
    assert len(health) == 1
    options, _, command = health[0].partition("CMD")
    assert "--interval" in options
    assert "--timeout" in options
    probe = exec_form(command.strip())
    assert "http://127.0.0.1:8000/healthz" in " ".join(probe)
    cmd = exec_form([a for k, a in stage if k == "CMD"][-1])
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert cmd[cmd.index("--port") + 1] == "8000"


def test_serving_cli_accepts_the_arguments_the_images_pass() -> None:
    from typer.testing import CliRunner

    from steelthread_serving.cli import cli

    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "--host" in result.output
    assert "--port" in result.output


def test_gpu_image_uses_a_cuda_runtime_base_with_cpu_fallback_documented() -> None:
    steps = instructions(dockerfile("serving-gpu"))
    cuda = [a for k, a in steps if k == "ARG" and a.startswith("CUDA_IMAGE=")]
    assert cuda
    assert re.fullmatch(r"CUDA_IMAGE=nvidia/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+", cuda[0])
    assert "CPU fallback" in dockerfile("serving-gpu").read_text()
    lock = (REPO / "uv.lock").read_text()
    assert 'name = "onnxruntime-gpu"' in lock, "the gpu extra must be locked"


def test_batch_image_has_java_and_the_spark_entrypoint() -> None:
    steps = final_stage(instructions(dockerfile("batch")))
    run_text = " ".join(a for k, a in steps if k == "RUN")
    assert "default-jre-headless" in run_text, "pyspark needs a Java runtime"
    env = " ".join(a for k, a in steps if k == "ENV")
    assert "JAVA_HOME=" in env
    assert "PYSPARK_PYTHON=/app/.venv/bin/python" in env
    assert exec_form([a for k, a in steps if k == "ENTRYPOINT"][-1]) == ["/opt/entrypoint.sh"]
    script = DOCKER / "spark" / "spark-entrypoint.sh"
    assert os.access(script, os.X_OK), "COPY keeps the mode: the entrypoint must be executable in git"
    entrypoint = script.read_text()
    assert "KubernetesExecutorBackend" in entrypoint
    assert "--deploy-mode client" in entrypoint


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_copied_repository_files_exist(image: str) -> None:
    for kind, args in instructions(dockerfile(image)):
        if kind != "COPY" or args.startswith("--from"):
            continue
        sources = shlex.split(args)[:-1]
        for source in sources:
            assert (REPO / source.rstrip("/")).exists(), f"{image}: COPY source {source} does not exist"


def test_monitoring_image_runs_the_skew_check_with_a_function_it_installs() -> None:
    steps = instructions(dockerfile("monitoring"))
    env = " ".join(a for k, a in final_stage(steps) if k == "ENV")
    match = re.search(r"STEELTHREAD_MONITOR_OFFLINE_FEATURES_FN=(\S+)", env)
    assert match is not None, "the monitoring image does not enable the training/serving skew check"
    module = match.group(1).partition(":")[0]
    assert module.split(".")[0] == "steelthread_features"
    assert "steelthread-features" in ALSO_INSTALLED["monitoring"]
    assert callable(callable_source(match.group(1)))
