"""infra/compose.yaml: valid against the Compose specification, and everything it names exists.

No Docker engine runs here, so the file is checked against the Compose spec schema that check-jsonschema
ships, and against the repository: Dockerfiles it builds, files it mounts, ports the apps listen on, and the
`STEELTHREAD_*` settings the apps actually read.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from steelthread_monitoring.settings import MonitorSettings
from steelthread_monitoring.skew import callable_source
from steelthread_serving.settings import ServingSettings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "infra" / "compose.yaml"
SHARED_SETTINGS = {
    "STEELTHREAD_PROFILE",
    "STEELTHREAD_DATA_DIR",
    "STEELTHREAD_API_KEYS",
    "STEELTHREAD_FLAGS_PATH",
    "STEELTHREAD_MODELS_DIR",
    "STEELTHREAD_PREDICTION_LOG_DIR",
    "STEELTHREAD_FEEDBACK_DIR",
    "STEELTHREAD_REDIS_URL",
    "STEELTHREAD_POSTGRES_DSN",
    "STEELTHREAD_PREDICTION_LOG_DSN",
    "STEELTHREAD_MLFLOW_TRACKING_URI",
    "STEELTHREAD_OFFLINE_STORE_URI",
    "STEELTHREAD_MONITOR_OFFLINE_FEATURES_FN",
    "STEELTHREAD_PSEUDONYM_KEY",
    "STEELTHREAD_PREDICTION_LOG_RETENTION_DAYS",
    "STEELTHREAD_METRICS_PORT",
    "STEELTHREAD_RATE_LIMIT_STORAGE",
}
# Platform-wide settings every app receives, whether or not its settings class reads them yet.
PLATFORM_WIDE = {
    "STEELTHREAD_PROFILE",
    "STEELTHREAD_REDIS_URL",
    "STEELTHREAD_POSTGRES_DSN",
    "STEELTHREAD_MLFLOW_TRACKING_URI",
    "STEELTHREAD_OFFLINE_STORE_URI",
}
IMAGES = {
    "steelthread-serving",
    "steelthread-serving-gpu",
    "steelthread-training",
    "steelthread-monitoring",
    "steelthread-batch",
}
APP_SETTINGS: dict[str, type[BaseSettings]] = {
    "serving": ServingSettings,
    "monitoring": MonitorSettings,
    "maintenance": MonitorSettings,
}
THIRD_PARTY_ENV = {"postgres": "POSTGRES_", "grafana": "GF_"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def our_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in services(compose).items() if "build" in svc}


def test_compose_file_matches_the_compose_specification() -> None:
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("check-jsonschema is not installed (dev group): cannot validate compose.yaml")
    proc = subprocess.run(
        [exe, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_schema_check_rejects_a_broken_compose_file(tmp_path: Path) -> None:
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert exe is not None
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  web:\n    image: nginx\n    ports: 80\n    restart: sometimes\n")
    proc = subprocess.run(
        [exe, "--builtin-schema", "vendor.compose-spec", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0


def test_the_whole_stack_is_there(compose: dict[str, Any]) -> None:
    expected = {
        "postgres",
        "redis",
        "mlflow",
        "prometheus",
        "node-exporter",
        "grafana",
        "serving",
        "monitoring",
        "maintenance",
    }
    assert expected <= set(services(compose))


def test_built_images_use_repository_dockerfiles_and_fixed_image_names(compose: dict[str, Any]) -> None:
    for name, svc in our_services(compose).items():
        context = (COMPOSE.parent / svc["build"]["context"]).resolve()
        assert context == REPO, f"{name}: build context must be the repository root (uv workspace)"
        dockerfile = context / svc["build"]["dockerfile"]
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
        image = svc["image"].split(":")[0]
        assert image in IMAGES, f"{name}: image {image} is not one of {sorted(IMAGES)}"
        assert dockerfile.name == f"{image.removeprefix('steelthread-')}.Dockerfile"


def test_third_party_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, svc in services(compose).items():
        if "build" in svc:
            continue
        image = svc["image"]
        assert ":" in image, f"{name}: pin {image} to a version"
        assert not image.endswith(":latest"), f"{name}: pin {image} to a version"


def env_of(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment", {})
    assert isinstance(env, dict), "use the mapping form of environment"
    return {str(k): str(v) for k, v in env.items()}


def test_app_services_use_only_shared_settings_and_the_production_profile(compose: dict[str, Any]) -> None:
    for name, svc in our_services(compose).items():
        if name == "mlflow":
            continue
        env = env_of(svc)
        assert set(env) <= SHARED_SETTINGS, f"{name}: unknown settings {sorted(set(env) - SHARED_SETTINGS)}"
        assert env["STEELTHREAD_PROFILE"] == "production"


@pytest.mark.parametrize("service", sorted(APP_SETTINGS))
def test_app_env_vars_are_read_by_the_app_settings(service: str, compose: dict[str, Any]) -> None:
    settings = APP_SETTINGS[service]
    prefix = str(settings.model_config.get("env_prefix", ""))
    assert prefix == "STEELTHREAD_"
    fields = {f"{prefix}{field.upper()}" for field in settings.model_fields}
    env = env_of(services(compose)[service])
    unread = set(env) - fields - PLATFORM_WIDE
    assert unread == set(), f"{service} sets settings its app does not read: {sorted(unread)}"
    required = {f"{prefix}{n.upper()}" for n, f in settings.model_fields.items() if f.is_required()}
    assert required <= set(env), f"{service} misses required settings {sorted(required - set(env))}"


def test_serving_requires_api_keys_from_the_environment(compose: dict[str, Any]) -> None:
    value = env_of(services(compose)["serving"])["STEELTHREAD_API_KEYS"]
    assert re.fullmatch(r"\$\{STEELTHREAD_API_KEYS:\?.+\}", value), (
        "no key in the repo: require it from the shell"
    )


def test_serving_and_monitoring_share_the_prediction_log(compose: dict[str, Any]) -> None:
    serving, monitoring = env_of(services(compose)["serving"]), env_of(services(compose)["monitoring"])
    for key in (
        "STEELTHREAD_PREDICTION_LOG_DSN",
        "STEELTHREAD_PREDICTION_LOG_DIR",
        "STEELTHREAD_FEEDBACK_DIR",
        "STEELTHREAD_MODELS_DIR",
    ):
        assert serving[key] == monitoring[key], f"{key} differs: monitoring would read another store"
    assert serving["STEELTHREAD_PREDICTION_LOG_DSN"].split("@")[1].startswith("postgres:5432/")
    assert services(compose)["monitoring"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    volumes = {
        str(v).split(":")[0]
        for v in services(compose)["monitoring"]["volumes"] + services(compose)["serving"]["volumes"]
        if isinstance(v, str)
    }
    assert "steelthread-data" in volumes


def test_monitoring_runs_the_skew_check(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in for the CronJob recomputes a sample of logged requests' features, as the CronJob does:
    the function its settings read from the service's environment resolves in the installed workspace."""
    env = env_of(services(compose)["monitoring"])
    for key in [k for k in os.environ if k.startswith("STEELTHREAD_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    function = MonitorSettings().monitor_offline_features_fn
    assert function == "steelthread_features.monitoring:recompute"
    assert callable(callable_source(function))
    assert "--offline-features " not in " ".join(services(compose)["monitoring"]["command"])


def test_maintenance_runs_the_clusters_retention_and_backfill_on_the_same_store(
    compose: dict[str, Any],
) -> None:
    """The stand-in for the CronJobs steelthread-retention and steelthread-evaluation-backfill runs their
    commands, word for word, with the options the CLIs have, on the store serving writes, keeping what the
    cluster's ConfigMap keeps."""
    from typer.main import get_command

    from steelthread_monitoring.cli import app as monitor_app
    from steelthread_monitoring.cli_eval import app as eval_app

    maintenance, serving = services(compose)["maintenance"], services(compose)["serving"]
    command = " ".join(maintenance["command"])
    crons = {
        doc["metadata"]["name"]: doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        for path in (REPO / "infra/k8s/base").glob("*-cronjob.yaml")
        for doc in yaml.safe_load_all(path.read_text())
    }
    retention = " ".join(crons["steelthread-retention"]["args"])
    backfill = re.search(
        r"^(steelthread-eval backfill[^\n;]*)$", crons["steelthread-evaluation-backfill"]["args"][0], re.M
    )
    assert backfill is not None
    for invocation, app, name in (
        (retention, monitor_app, "retention"),
        (backfill.group(1), eval_app, "backfill"),
    ):
        assert f"{invocation};" in command, f"compose does not run {invocation!r} as the cluster does"
        cli = get_command(app).commands[name]  # type: ignore[attr-defined]
        known = {opt for param in cli.params for opt in param.opts}
        used = {word for word in invocation.split() if word.startswith("--")}
        assert used <= known, f"{name}: unknown options {sorted(used - known)}"
    env, serving_env = env_of(maintenance), env_of(serving)
    for key in (
        "STEELTHREAD_PREDICTION_LOG_DSN",
        "STEELTHREAD_MODELS_DIR",
        "STEELTHREAD_MLFLOW_TRACKING_URI",
    ):
        assert env[key] == serving_env[key], f"{key} differs: maintenance would work on another store"
    config = yaml.safe_load_all((REPO / "infra/k8s/base/config.yaml").read_text())
    data = next(doc["data"] for doc in config if doc["metadata"]["name"] == "steelthread-config")
    key = "STEELTHREAD_PREDICTION_LOG_RETENTION_DAYS"
    assert env[key] == data[key], "the laptop keeps what the cluster keeps"
    assert maintenance["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert maintenance["depends_on"]["mlflow"]["condition"] == "service_healthy"


def test_other_services_use_their_own_documented_variables(compose: dict[str, Any]) -> None:
    for name, prefix in THIRD_PARTY_ENV.items():
        env = env_of(services(compose)[name])
        assert env, f"{name}: no environment"
        assert all(k.startswith(prefix) for k in env), f"{name}: only {prefix}* variables expected"


def test_serving_publishes_port_8000_and_monitoring_gauges_reach_prometheus(compose: dict[str, Any]) -> None:
    assert services(compose)["serving"]["ports"][0] == "127.0.0.1:8000:8000"
    command = " ".join(services(compose)["monitoring"]["command"])
    assert "steelthread-monitor run" in command
    textfile = re.search(r"--textfile (\S+)\.prom", command)
    assert textfile is not None
    exporter = " ".join(services(compose)["node-exporter"]["command"])
    directory = re.search(r"--collector\.textfile\.directory=(\S+)", exporter)
    assert directory is not None
    # Same volume, two mount points: /var/lib/steelthread in monitoring, /steelthread in node-exporter.
    written = Path(textfile.group(1)).parent.relative_to("/var/lib/steelthread")
    assert Path(directory.group(1)).relative_to("/steelthread") == written
    assert "steelthread-data:/steelthread:ro" in services(compose)["node-exporter"]["volumes"]
    scrape = yaml.safe_load((REPO / "infra/prometheus/prometheus.yml").read_text())["scrape_configs"]
    targets = {t for job in scrape for cfg in job.get("static_configs", []) for t in cfg["targets"]}
    assert {"node-exporter:9100"} <= targets, "prometheus.yml must scrape the compose services"
    for svc in services(compose).values():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), "the laptop stack listens on loopback only"


def test_prometheus_scrapes_serving_on_its_metrics_port_not_the_api_port(compose: dict[str, Any]) -> None:
    """Serving answers /metrics on STEELTHREAD_METRICS_PORT (404 on the API port): Prometheus scrapes that
    port, which the host sees on loopback only (the runbooks' STEELTHREAD_METRICS_URL)."""
    serving = services(compose)["serving"]
    port = int(env_of(serving)["STEELTHREAD_METRICS_PORT"])
    assert port != 8000
    scrape = yaml.safe_load((REPO / "infra/prometheus/prometheus.yml").read_text())["scrape_configs"]
    (job,) = [job for job in scrape if job["job_name"] == "steelthread-serving"]
    assert job["static_configs"] == [{"targets": [f"serving:{port}"]}]
    assert job["metrics_path"] == "/metrics"
    assert f"127.0.0.1:{port}:{port}" in serving["ports"]


def test_serving_counts_quotas_in_the_stacks_redis(compose: dict[str, Any]) -> None:
    """As every replica of a deployment does, so what is rehearsed on the stack is the shared count."""
    env = env_of(services(compose)["serving"])
    assert env["STEELTHREAD_RATE_LIMIT_STORAGE"].startswith("redis://redis:6379/")
    assert services(compose)["serving"]["depends_on"]["redis"]["condition"] == "service_healthy"


def bind_sources(compose: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(service, host path relative to infra/, volume spec) for every bind mount."""
    named = set(compose.get("volumes", {}))
    found = []
    for name, svc in services(compose).items():
        for volume in svc.get("volumes", []):
            if isinstance(volume, str):
                source = volume.split(":")[0]
                if source in named:
                    continue
                found.append((name, source, {"type": "bind", "source": source}))
            elif volume["type"] == "bind":
                found.append((name, volume["source"], volume))
    return found


def test_every_mounted_file_exists_in_the_repository(compose: dict[str, Any]) -> None:
    mounts = bind_sources(compose)
    assert len(mounts) >= 6
    for service, source, spec in mounts:
        host = (COMPOSE.parent / source).resolve()
        if host.is_relative_to(REPO / "var"):
            # Local state (promoted model packages), created by the apps, never committed.
            assert spec.get("bind", {}).get("create_host_path") is True, (
                f"{service}: {source} may not exist yet"
            )
            assert spec.get("read_only") is True
            continue
        assert host.exists(), f"{service}: mounted path {source} does not exist"


def test_prometheus_and_grafana_mounts_point_at_the_shared_config(compose: dict[str, Any]) -> None:
    prometheus = [v for v in services(compose)["prometheus"]["volumes"] if isinstance(v, str)]
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus
    assert "./prometheus/rules:/etc/prometheus/rules:ro" in prometheus
    assert list((REPO / "infra/prometheus/rules").glob("*.yml")), "alert rules are mounted from there"
    grafana = [v for v in services(compose)["grafana"]["volumes"] if isinstance(v, str)]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    assert "./grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana


def lock_closure(member: str, extras: tuple[str, ...] = ()) -> set[str]:
    """Every package name uv.lock installs for a workspace member (with extras), as the image's uv sync does."""
    lock = {p["name"]: p for p in tomllib.loads((REPO / "uv.lock").read_text())["package"]}
    seen: set[str] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [(member, extras)]
    while todo:
        name, wanted = todo.pop()
        package = lock[name]
        deps = list(package.get("dependencies", []))
        for extra in wanted:
            deps += package.get("optional-dependencies", {}).get(extra, [])
        if name in seen and not wanted:
            continue
        seen.add(name)
        for dep in deps:
            if dep["name"] not in seen or dep.get("extra"):
                todo.append((dep["name"], tuple(dep.get("extra", ()))))
    return seen


def test_mlflow_service_runs_a_server_the_training_image_installs(compose: dict[str, Any]) -> None:
    mlflow = services(compose)["mlflow"]
    assert mlflow["build"]["dockerfile"] == "infra/docker/training.Dockerfile"
    installed = lock_closure("steelthread-training")
    assert {"mlflow", "psycopg", "uvicorn"} <= installed, "mlflow server on PostgreSQL needs these"
    command = mlflow["command"]
    assert command[:2] == ["mlflow", "server"]
    options = dict(arg.removeprefix("--").split("=", 1) for arg in command[2:] if "=" in arg)
    exe = Path(sys.executable).parent / "mlflow"
    usage = subprocess.run(
        [str(exe), "server", "--help"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    for arg in command[2:]:
        assert f"{arg.split('=')[0]} " in usage or f"{arg.split('=')[0]}\n" in usage, f"mlflow server: {arg}"
    assert options["backend-store-uri"].startswith("postgresql+psycopg://")
    database = options["backend-store-uri"].rsplit("/", 1)[1]
    assert database in stack_databases(compose)
    port = int(options["port"])
    assert f"127.0.0.1:{port}:{port}" in mlflow["ports"]
    probe = " ".join(mlflow["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/health" in probe
    allowed = set(options["allowed-hosts"].split(","))
    assert {f"mlflow:{port}", f"127.0.0.1:{port}", f"localhost:{port}"} <= allowed, (
        "clients inside the stack and on the host must pass MLflow's host check"
    )


def stack_databases(compose: dict[str, Any]) -> set[str]:
    """POSTGRES_DB and every database init.sql creates."""
    init = (REPO / "infra/docker/postgres/init.sql").read_text()
    return {
        services(compose)["postgres"]["environment"]["POSTGRES_DB"],
        *re.findall(r"CREATE DATABASE (\w+)", init),
    }


def test_every_database_an_app_is_pointed_at_exists_in_the_stack(compose: dict[str, Any]) -> None:
    found = 0
    for name, svc in our_services(compose).items():
        for key, value in env_of(svc).items():
            if value.startswith("postgresql"):
                found += 1
                assert "@postgres:5432/" in value, f"{name}: {key} must point at the postgres service"
                assert value.rsplit("/", 1)[1] in stack_databases(compose), f"{name}: {key}: no such database"
    assert found >= 4


def test_healthchecks_probe_what_the_services_run(compose: dict[str, Any]) -> None:
    postgres = services(compose)["postgres"]
    probe = " ".join(postgres["healthcheck"]["test"])
    env = postgres["environment"]
    assert f"-U {env['POSTGRES_USER']}" in probe
    assert f"-d {env['POSTGRES_DB']}" in probe
    assert services(compose)["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    # A dependency waits for health only where there is a healthcheck to wait for (compose's or the image's).
    image_health = {"serving"}  # serving.Dockerfile has a HEALTHCHECK (test_infra_dockerfiles.py)
    for name, svc in services(compose).items():
        for dependency, spec in svc.get("depends_on", {}).items():
            assert dependency in services(compose), f"{name} depends on unknown {dependency}"
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services(compose)[dependency] or dependency in image_health


def test_prometheus_scrapes_ports_the_services_listen_on(compose: dict[str, Any]) -> None:
    scrape = yaml.safe_load((REPO / "infra/prometheus/prometheus.yml").read_text())["scrape_configs"]
    listening = {
        "serving": {int(str(p).rsplit(":", 1)[1]) for p in services(compose)["serving"]["ports"]},
        # node-exporter's default port (no --web.listen-address in its command)
        "node-exporter": {9100},
    }
    assert not any("listen-address" in a for a in services(compose)["node-exporter"]["command"])
    for job in scrape:
        for cfg in job["static_configs"]:
            for target in cfg["targets"]:
                host, port = target.split(":")
                assert host in listening, f"{job['job_name']}: {host} is not a stack service"
                assert int(port) in listening[host], f"{job['job_name']}: {host} does not listen on {port}"


def test_monitoring_command_uses_real_options_of_the_monitor_cli(compose: dict[str, Any]) -> None:
    from typer.main import get_command

    from steelthread_monitoring.cli import app

    command = " ".join(services(compose)["monitoring"]["command"])
    invocation = re.search(r"steelthread-monitor run ([^;]+);", command)
    assert invocation is not None
    used = {word for word in invocation.group(1).split() if word.startswith("--")}
    run = get_command(app).commands["run"]  # type: ignore[attr-defined]
    known = {opt for param in run.params for opt in param.opts}
    assert used <= known, f"unknown options {sorted(used - known)}"
    scripts = tomllib.loads((REPO / "apps/monitoring/pyproject.toml").read_text())["project"]["scripts"]
    assert "steelthread-monitor" in scripts


def test_grafana_home_dashboard_is_a_mounted_provisioned_file(compose: dict[str, Any]) -> None:
    grafana = services(compose)["grafana"]
    home = Path(env_of(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    mounts = {
        v.split(":")[1]: (COMPOSE.parent / v.split(":")[0]).resolve()
        for v in grafana["volumes"]
        if isinstance(v, str) and v.startswith("./")
    }
    folder = mounts[str(home.parent)]
    assert (folder / home.name).is_file(), f"{home} is not in {folder}"
    provider = yaml.safe_load((REPO / "infra/grafana/provisioning/dashboards/steelthread.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == str(home.parent), "the provider loads that folder"
    datasource = yaml.safe_load((REPO / "infra/grafana/provisioning/datasources/prometheus.yml").read_text())
    url = datasource["datasources"][0]["url"]
    host, port = url.removeprefix("http://").split(":")
    assert host in services(compose)
    assert any(str(p).endswith(f":{port}") for p in services(compose)[host]["ports"])
    assert grafana["depends_on"][host]["condition"] == "service_started"
