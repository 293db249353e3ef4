"""`make demo STACK=1` runs the whole loop on the compose stack's services, proven without a Docker engine.

The services are started from compose.yaml's own definitions with the containers' names and mounts mapped to
this machine: the shared PostgreSQL (one throwaway database per database the stack's init.sql creates), the
shared Redis (a project of its own, so its keys never meet another test's), the `mlflow server` command of
the `mlflow` service, and `steelthread-serve` as the serving image runs it with the `serving` service's
environment. The demo in stack mode then drives them through the ordinary settings: the test asserts the
registered champion in MLflow's registry, the online features in Redis, the served answers and the rows in
the prediction log. A second, static test keeps the demo's default endpoints (`STACK_DEFAULTS`) in step with
the ports and mounts compose.yaml publishes.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import redis
import yaml

from helpers.postgres import throwaway_database
from helpers.serving import free_port
from steelthread_contracts.logstore import FEEDBACK_TABLE, PREDICTION_TABLE

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "infra" / "compose.yaml"
REDIS_URL = os.environ.get("STEELTHREAD_REDIS_URL", "redis://127.0.0.1:6379/0")
ROWS, REPLAY = 6000, 30  # the size tests/demo proves the gate passes at, for every use case


def load_demo() -> Any:
    """scripts/demo.py as a module (it is a script, not a package member)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("steelthread_demo_script", REPO / "scripts" / "demo.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


def compose_services() -> dict[str, dict[str, Any]]:
    return dict(yaml.safe_load(COMPOSE.read_text())["services"])


def published(service: dict[str, Any], container_port: int) -> int:
    """The host port a service publishes for a container port (`127.0.0.1:HOST:CONTAINER`)."""
    for spec in service.get("ports", []):
        address, host, inner = str(spec).split(":")
        if int(inner) == container_port:
            assert address == "127.0.0.1"
            return int(host)
    raise AssertionError(f"port {container_port} is not published")


def host_view(url: str, services: dict[str, dict[str, Any]]) -> str:
    """A URL a container uses (`scheme://[credentials@]service:port/path`) as the host reaches it."""
    parts = urlsplit(url)
    assert parts.hostname in services, f"{url}: {parts.hostname} is not a compose service"
    assert parts.port is not None
    port = published(services[parts.hostname], parts.port)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return parts._replace(netloc=f"{credentials}127.0.0.1:{port}").geturl()


def bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path of a service's bind mounts (long form only: the ones from var/)."""
    return {
        v["target"]: (COMPOSE.parent / v["source"]).resolve()
        for v in service.get("volumes", [])
        if isinstance(v, dict) and v["type"] == "bind"
    }


def test_demo_stack_defaults_are_the_ports_and_mounts_compose_publishes() -> None:
    demo, services = load_demo(), compose_services()
    env = services["serving"]["environment"]
    defaults = demo.STACK_DEFAULTS
    assert defaults["STEELTHREAD_PROFILE"] == env["STEELTHREAD_PROFILE"] == "production"
    for key in (
        "STEELTHREAD_MLFLOW_TRACKING_URI",
        "STEELTHREAD_REDIS_URL",
        "STEELTHREAD_POSTGRES_DSN",
        "STEELTHREAD_PREDICTION_LOG_DSN",
    ):
        assert defaults[key] == host_view(env[key], services), key
    # the demo's batch and monitoring pseudonymise as the stack's serving does
    assert defaults["STEELTHREAD_PSEUDONYM_KEY"] == env["STEELTHREAD_PSEUDONYM_KEY"]
    mounts = bind_mounts(services["serving"])
    assert Path(defaults["STEELTHREAD_MODELS_DIR"]) == mounts[env["STEELTHREAD_MODELS_DIR"]]
    flags = Path(env["STEELTHREAD_FLAGS_PATH"])
    assert Path(defaults["STEELTHREAD_FLAGS_PATH"]) == mounts[str(flags.parent)] / flags.name
    assert f"http://127.0.0.1:{published(services['serving'], 8000)}" == demo.STACK_SERVING_URL
    # make stack-up seeds the mounted flag folder: a missing file would stop serving at start-up (exit 2)
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile.split("\nstack-up:", 1)[1].split("\n\n", 1)[0]
    seeded = Path(defaults["STEELTHREAD_FLAGS_PATH"]).relative_to(REPO)
    assert f"cp apps/serving/flags.json {seeded}" in recipe
    assert "--stack" in makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]


@dataclass
class LocalStack:
    """The compose services on this machine; `rewrite` maps a value from compose.yaml onto them."""

    root: Path
    databases: dict[str, str] = field(default_factory=dict)
    """Database name in compose.yaml -> DSN of its throwaway stand-in."""
    mlflow_url: str = ""
    project: str = field(default_factory=lambda: f"st_stack_{uuid.uuid4().hex[:10]}")

    def paths(self, service: str) -> dict[str, Path]:
        """Container path -> local folder for one service: bind mounts from var/ map into a shared `host`
        folder (as on the laptop, where the demo writes them), named volumes into one folder each."""
        compose = yaml.safe_load(COMPOSE.read_text())
        out = {
            target: self.root / "host" / source.relative_to(REPO)
            for target, source in bind_mounts(compose["services"][service]).items()
            if source.is_relative_to(REPO / "var")
        }
        for volume in compose["services"][service].get("volumes", []):
            if isinstance(volume, str) and volume.split(":")[0] in compose["volumes"]:
                name, target = volume.split(":")[:2]
                out[target] = self.root / "volumes" / name
        return out

    def rewrite(self, value: str, service: str) -> str:
        """A value of the service's command or environment as it runs on this machine."""

        def database(match: re.Match[str]) -> str:
            local = self.databases[match.group(2)]
            return local.replace("postgresql://", f"postgresql{match.group(1) or ''}://", 1)

        value = re.sub(r"postgresql(\+psycopg)?://[^@/]+@postgres:5432/(\w+)", database, value)
        value = value.replace("redis://redis:6379/0", REDIS_URL).replace(
            "http://mlflow:5000", self.mlflow_url
        )
        paths = self.paths(service)
        for inner in sorted(paths, key=len, reverse=True):  # the deepest mount wins, as in the container
            option, _, path = value.rpartition("=") if value.startswith("--") else ("", "", value)
            if path == inner or path.startswith(f"{inner}/"):
                local = str(paths[inner]) + path[len(inner) :]
                return f"{option}={local}" if option else local
        return value


def wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url} exited {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {seconds} s: {log.read_text()[-3000:]}")


def start(stack: ExitStack, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = stack.enter_context(log.open("wb"))
    proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    stack.callback(stop)
    return proc


def clean_env() -> dict[str, str]:
    """This process's environment without any STEELTHREAD_* setting (the use case selection excepted)."""
    keep = {"STEELTHREAD_USECASE"}
    return {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_") or k in keep}


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    services = compose_services()
    root = tmp_path_factory.mktemp("stack")
    local = LocalStack(root=root)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is required for this test and is not reachable: {exc}")
    init_sql = (REPO / "infra" / "docker" / "postgres" / "init.sql").read_text()
    names = [
        services["postgres"]["environment"]["POSTGRES_DB"],
        *re.findall(r"CREATE DATABASE (\w+)", init_sql),
    ]
    with ExitStack() as stack:
        for name in names:
            local.databases[name] = stack.enter_context(throwaway_database(f"st_stack_{name}"))
        for service in services:
            for path in local.paths(service).values():
                path.mkdir(parents=True, exist_ok=True)
        # make stack-up seeds the mounted flag folder
        flags = local.rewrite(services["serving"]["environment"]["STEELTHREAD_FLAGS_PATH"], "serving")
        shutil.copy(REPO / "apps" / "serving" / "flags.json", flags)

        # mlflow: the service's own command, on a free loopback port (one worker on this small machine).
        port = free_port()
        local.mlflow_url = f"http://127.0.0.1:{port}"
        args = [local.rewrite(a, "mlflow") for a in services["mlflow"]["command"]]
        args = [a for a in args if not a.startswith(("--host=", "--port=", "--allowed-hosts="))]
        args += ["--host=127.0.0.1", f"--port={port}", f"--allowed-hosts=127.0.0.1:{port}", "--workers=1"]
        bin_dir = Path(sys.executable).parent
        mlflow = start(stack, [str(bin_dir / args[0]), *args[1:]], clean_env(), root / "mlflow.log")
        wait_for(f"{local.mlflow_url}/health", mlflow, root / "mlflow.log", 300)
        try:
            yield local
        finally:
            leftover = list(client.scan_iter(match=f"*{local.project}*".encode(), count=1000))
            if leftover:
                client.delete(*leftover)


def serving_env(local: LocalStack, api_key: str) -> dict[str, str]:
    """The `serving` service's environment on this machine (the image's ENV under it, as in the container)."""
    env = compose_services()["serving"]["environment"]
    mapped = {k: local.rewrite(str(v), "serving") for k, v in env.items()}
    mapped["STEELTHREAD_API_KEYS"] = api_key
    return clean_env() | mapped | {"STEELTHREAD_PROJECT": local.project}


@pytest.mark.slow
@pytest.mark.services
def test_demo_stack_mode_runs_the_loop_on_the_stack_services(local_stack: LocalStack) -> None:
    local, api_key = local_stack, f"stack-{secrets.token_hex(16)}"
    with ExitStack() as stack:
        port = free_port()
        serving_bin = Path(sys.executable).parent / "steelthread-serve"
        log = local.root / "serving.log"
        proc = start(
            stack,
            [str(serving_bin), "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            serving_env(local, api_key),
            log,
        )
        wait_for(f"http://127.0.0.1:{port}/readyz", proc, log, 180)

        demo_root = local.root / "demo"
        serving = compose_services()["serving"]["environment"]
        host = local.root / "host" / "var"
        env = clean_env() | {
            # Every endpoint of STACK_DEFAULTS, pointed at this machine's stand-ins.
            "STEELTHREAD_MLFLOW_TRACKING_URI": local.mlflow_url,
            "STEELTHREAD_REDIS_URL": REDIS_URL,
            "STEELTHREAD_POSTGRES_DSN": local.rewrite(serving["STEELTHREAD_POSTGRES_DSN"], "serving"),
            "STEELTHREAD_PREDICTION_LOG_DSN": local.rewrite(
                serving["STEELTHREAD_PREDICTION_LOG_DSN"], "serving"
            ),
            "STEELTHREAD_MODELS_DIR": str(host / "models"),
            "STEELTHREAD_AUDIT_DIR": str(host / "audit"),
            "STEELTHREAD_FLAGS_PATH": str(host / "stack" / "flags" / "flags.json"),
            "STEELTHREAD_API_KEYS": api_key,
            "STEELTHREAD_PSEUDONYM_KEY": serving["STEELTHREAD_PSEUDONYM_KEY"],
            "STEELTHREAD_PROJECT": local.project,
            "STEELTHREAD_DEMO_DIR": str(demo_root),
            "STEELTHREAD_DEMO_ROWS": str(ROWS),
            "STEELTHREAD_DEMO_REPLAY": str(REPLAY),
            "COLUMNS": "200",
        }
        assert set(load_demo().STACK_DEFAULTS) - {"STEELTHREAD_PROFILE"} <= set(env), "a default leaks"
        result = subprocess.run(
            [
                sys.executable,
                str(REPO / "scripts" / "demo.py"),
                "--stack",
                "--serving-url",
                f"http://127.0.0.1:{port}",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        out = result.stdout + result.stderr
        assert result.returncode == 0, out[-4000:] + log.read_text()[-2000:]
        answered = 6 * REPLAY
        assert f"requests answered: {answered}; prediction-log records: {answered}" in out, out[-3000:]
        assert "gate passed" in out

        # The registry is the stack's MLflow server (on its PostgreSQL): version 1 is the champion.
        from mlflow import MlflowClient

        from steelthread_training.settings import DEFAULT_MODEL_NAME

        registered = MlflowClient(local.mlflow_url).get_model_version_by_alias(DEFAULT_MODEL_NAME, "champion")
        assert registered.version == "1"
        with psycopg.connect(local.databases["mlflow"]) as conn:
            row = conn.execute("SELECT count(*) FROM model_versions").fetchone()
            assert row is not None
            assert row[0] == 1

        # The online features are in Redis under the test's project, and the Feast registry in PostgreSQL.
        keys = list(
            redis.Redis.from_url(REDIS_URL).scan_iter(match=f"*{local.project}*".encode(), count=1000)
        )
        assert len(keys) > 100
        with psycopg.connect(local.databases["feast"]) as conn:
            row = conn.execute(
                "SELECT count(*) FROM feature_views WHERE project_id = %s", (local.project,)
            ).fetchone()
            assert row is not None
            assert row[0] > 0

        # Serving answers live from the champion, with the features from Redis.
        model = httpx.get(f"http://127.0.0.1:{port}/v1/model", headers={"X-API-Key": api_key}).json()
        assert model["mode"] == "live"
        assert model["champion"]["version"] == "1"
        history = re.search(
            r"skeleton \((\d+), model answered (\d+)\) -> shadow \((\d+), model answered (\d+)\) -> "
            r"canary \((\d+), model answered (\d+)\) -> live \((\d+), model answered (\d+)\)",
            out,
        )
        assert history, out[-3000:]
        assert int(history.group(8)) == REPLAY

        # The prediction log and the feedback are rows in the stack's PostgreSQL, one per request.
        with psycopg.connect(local.databases["steelthread"]) as conn:
            logged = conn.execute(
                f"SELECT count(*), count(DISTINCT request_id), count(*) FILTER (WHERE model_version = '1') "
                f"FROM {PREDICTION_TABLE}"
            ).fetchone()
            labels = conn.execute(f"SELECT count(*) FROM {FEEDBACK_TABLE}").fetchone()
        assert logged is not None
        assert logged[0] == logged[1] == answered
        assert logged[2] >= REPLAY * 3  # live and drift all by version 1, canary partly
        match = re.search(r"(\d+) outcomes posted", out)
        assert match
        assert labels is not None
        assert labels[0] == int(match.group(1)) > 0
        assert list((demo_root / "monitoring").glob("*/report.html")), "the monitoring job read the log"


def test_demo_stack_mode_without_a_stack_is_one_line_naming_what_is_down(tmp_path: Path) -> None:
    closed = {name: free_port() for name in ("mlflow", "redis", "postgres", "serving")}
    env = clean_env() | {
        "STEELTHREAD_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{closed['mlflow']}",
        "STEELTHREAD_REDIS_URL": f"redis://127.0.0.1:{closed['redis']}/0",
        "STEELTHREAD_POSTGRES_DSN": f"postgresql://steelthread:secret@127.0.0.1:{closed['postgres']}/feast",
        "STEELTHREAD_PREDICTION_LOG_DSN": f"postgresql://steelthread:secret@127.0.0.1:{closed['postgres']}/x",
        "STEELTHREAD_API_KEYS": f"stack-{secrets.token_hex(16)}",
        "STEELTHREAD_DEMO_DIR": str(tmp_path / "demo"),
        "COLUMNS": "400",
    }
    out, line = stack_demo_error(env, f"http://127.0.0.1:{closed['serving']}")
    for name, port in closed.items():
        assert f"127.0.0.1:{port}" in line, name
    assert "make stack-up" in line
    assert "secret" not in out, "no credentials in the message"
    assert not (tmp_path / "demo" / "data").exists(), "nothing is generated before the stack answers"


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("", "set STEELTHREAD_PREDICTION_LOG_DSN"),
        (
            "mysql://steelthread:secret@127.0.0.1:3306/log",
            "invalid setting prediction_log_dsn: Value error, must be a postgresql:// URL",
        ),
    ],
    ids=["empty", "not-postgresql"],
)
def test_demo_stack_mode_reads_the_prediction_log_dsn_through_the_settings(
    tmp_path: Path, dsn: str, expected: str
) -> None:
    """The stack's prediction log is the deployment settings' `prediction_log_dsn`, read and validated as the
    apps read it: an empty one is unset (the stack's default does not fill it in, nor does a connection to
    libpq's defaults), one that is not PostgreSQL is refused; each is one line before anything is written."""
    env = clean_env() | {
        "STEELTHREAD_PREDICTION_LOG_DSN": dsn,
        "STEELTHREAD_API_KEYS": f"stack-{secrets.token_hex(16)}",
        "STEELTHREAD_DEMO_DIR": str(tmp_path / "demo"),
        "COLUMNS": "400",
    }
    out, line = stack_demo_error(env, "http://127.0.0.1:9")
    assert expected in line
    assert "secret" not in out, "no credentials in the message"
    assert not (tmp_path / "demo" / "data").exists(), "nothing is generated before the settings are read"


def stack_demo_error(env: dict[str, str], serving_url: str) -> tuple[str, str]:
    """Run the demo in stack mode where it must refuse to start: its whole output and its one `error:` line
    (exit 1, no traceback)."""
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--stack", "--serving-url", serving_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "Traceback" not in out
    (line,) = [x for x in out.splitlines() if x.startswith("error:")]
    return out, line
