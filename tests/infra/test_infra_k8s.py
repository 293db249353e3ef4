"""Kubernetes manifests, validated offline against the Kubernetes OpenAPI schemas (kubernetes-validate).

Core kinds are checked strictly (unknown fields rejected) against the cluster version Terraform deploys. The
SparkApplication is a CRD whose schema kubernetes-validate does not ship, so it is checked against a JSON
schema below that transcribes the Spark operator's v1beta2 fields these manifests use. On top of the schemas
the tests check how the pieces fit: probes, selectors, the HPA/PDB targets, the GPU toleration matching the
Terraform taint, images and settings names, and the security context of every container.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from kubernetes_validate import utils as kv  # type: ignore[import-untyped]

from steelthread_contracts.durations import parse_duration
from steelthread_contracts.env_names import SETTINGS_VARIABLES
from steelthread_contracts.usecase import active
from steelthread_monitoring.errors import ExitCode
from steelthread_monitoring.retention import check_retention
from steelthread_monitoring.settings import MonitorSettings
from steelthread_monitoring.skew import callable_source

if TYPE_CHECKING:
    from conftest import Hcl

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "infra" / "k8s"
KUBERNETES_VERSION = "1.33.0"
CRD_KINDS = {"SparkApplication"}
IMAGES = {
    "steelthread-serving",
    "steelthread-serving-gpu",
    "steelthread-training",
    "steelthread-monitoring",
    "steelthread-batch",
}
SETTINGS = {
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
    "STEELTHREAD_PREDICTION_LOG_SPILL_DIR",
    "STEELTHREAD_MLFLOW_TRACKING_URI",
    "STEELTHREAD_OFFLINE_STORE_URI",
    "STEELTHREAD_MONITOR_OFFLINE_FEATURES_FN",
    "STEELTHREAD_PREDICTION_LOG_RETENTION_DAYS",
    "STEELTHREAD_METRICS_PORT",
    "STEELTHREAD_RATE_LIMIT",
    "STEELTHREAD_RATE_LIMIT_STORAGE",
    "STEELTHREAD_AUTH_FAILURE_RATE_LIMIT",
    "STEELTHREAD_LOG_BYTES_LIMIT",
    "STEELTHREAD_UNKNOWN_ENTITY_LIMIT",
    "STEELTHREAD_QUOTA_SYNC_MS",
}
SCHEDULED = ("steelthread-monitoring", "steelthread-retention", "steelthread-evaluation-backfill")
"""The CronJobs, each on the monitoring image with the monitoring job's settings and service account."""
QUOTA_SETTINGS = (
    "STEELTHREAD_RATE_LIMIT",
    "STEELTHREAD_AUTH_FAILURE_RATE_LIMIT",
    "STEELTHREAD_LOG_BYTES_LIMIT",
    "STEELTHREAD_UNKNOWN_ENTITY_LIMIT",
)
Load = Callable[[Path], list[dict[str, Any]]]

SPARK_POD = {
    "type": "object",
    "required": ["cores", "memory", "serviceAccount"],
    "properties": {
        "cores": {"type": "integer", "minimum": 1},
        "coreLimit": {"type": "string"},
        "memory": {"type": "string", "pattern": "^[0-9]+[kmgt]$"},
        "memoryOverhead": {"type": "string", "pattern": "^[0-9]+[kmgt]$"},
        "instances": {"type": "integer", "minimum": 1},
        "serviceAccount": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "envFrom": {"type": "array"},
        "securityContext": {"type": "object"},
        "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}
SPARK_APPLICATION = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "sparkoperator.k8s.io/v1beta2"},
        "kind": {"const": "SparkApplication"},
        "metadata": {"type": "object", "required": ["name", "namespace"]},
        "spec": {
            "type": "object",
            "required": [
                "type",
                "mode",
                "image",
                "mainApplicationFile",
                "sparkVersion",
                "driver",
                "executor",
            ],
            "properties": {
                "type": {"enum": ["Java", "Python", "Scala", "R"]},
                "pythonVersion": {"enum": ["2", "3"]},
                "mode": {"enum": ["cluster", "client"]},
                "image": {"type": "string"},
                "imagePullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
                "sparkVersion": {"type": "string", "pattern": r"^\d+\.\d+\.\d+$"},
                "mainApplicationFile": {"type": "string", "pattern": "^local://"},
                "arguments": {"type": "array", "items": {"type": "string"}},
                "deps": {
                    "type": "object",
                    "properties": {"packages": {"type": "array", "items": {"type": "string"}}},
                    "additionalProperties": False,
                },
                "sparkConf": {"type": "object", "additionalProperties": {"type": "string"}},
                "timeToLiveSeconds": {"type": "integer", "minimum": 1},
                "restartPolicy": {
                    "type": "object",
                    "required": ["type"],
                    "properties": {
                        "type": {"enum": ["Never", "Always", "OnFailure"]},
                        "onFailureRetries": {"type": "integer"},
                        "onFailureRetryInterval": {"type": "integer"},
                        "onSubmissionFailureRetries": {"type": "integer"},
                        "onSubmissionFailureRetryInterval": {"type": "integer"},
                    },
                    "additionalProperties": False,
                },
                "driver": SPARK_POD,
                "executor": SPARK_POD,
            },
            "additionalProperties": False,
        },
    },
}


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


def all_docs(load: Load) -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in manifest_files() for doc in load(path)]


def by_kind(load: Load, kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in all_docs(load) if doc["kind"] == kind}


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "CronJob":
        return dict(doc["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return dict(doc["spec"]["template"]["spec"])


def workloads(load: Load) -> Iterator[tuple[str, dict[str, Any]]]:
    for _, doc in all_docs(load):
        if doc["kind"] in {"Deployment", "Job", "CronJob"}:
            yield doc["metadata"]["name"], doc


def test_there_are_manifests_for_every_workload(load_yaml_docs: Load) -> None:
    kinds = {(doc["kind"], doc["metadata"]["name"]) for _, doc in all_docs(load_yaml_docs)}
    assert {
        ("Deployment", "steelthread-serving"),
        ("Deployment", "steelthread-serving-gpu"),
        ("Service", "steelthread-serving"),
        ("HorizontalPodAutoscaler", "steelthread-serving"),
        ("PodDisruptionBudget", "steelthread-serving"),
        ("CronJob", "steelthread-monitoring"),
        ("CronJob", "steelthread-retention"),
        ("CronJob", "steelthread-evaluation-backfill"),
        ("Job", "steelthread-training"),
        ("SparkApplication", "steelthread-batch-score"),
    } <= kinds


def test_core_manifests_validate_strictly_against_the_kubernetes_schema(load_yaml_docs: Load) -> None:
    checked = 0
    for path, doc in all_docs(load_yaml_docs):
        if doc["kind"] in CRD_KINDS:
            continue
        try:
            kv.validate(doc, KUBERNETES_VERSION, strict=True)
        except kv.ValidationError as exc:
            pytest.fail(f"{path.relative_to(REPO)} {doc['kind']}: {exc.message} at {list(exc.path)}")
        checked += 1
    assert checked >= 15


def test_schema_validation_rejects_broken_manifests(load_yaml_docs: Load) -> None:
    deployment = by_kind(load_yaml_docs, "Deployment")["steelthread-serving"]
    typo = copy.deepcopy(deployment)
    typo["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "two"
    for broken in (typo, wrong_type):
        with pytest.raises(kv.ValidationError):
            kv.validate(broken, KUBERNETES_VERSION, strict=True)


def test_spark_application_matches_the_operator_schema(load_yaml_docs: Load) -> None:
    (app,) = by_kind(load_yaml_docs, "SparkApplication").values()
    jsonschema.validate(app, SPARK_APPLICATION)
    broken = copy.deepcopy(app)
    broken["spec"]["mode"] = "local"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SPARK_APPLICATION)


def test_spark_application_runs_the_batch_cli_from_the_batch_image(load_yaml_docs: Load) -> None:
    (app,) = by_kind(load_yaml_docs, "SparkApplication").values()
    spec = app["spec"]
    assert spec["image"].split(":")[0] == "steelthread-batch"
    assert spec["arguments"][0] == "score"
    main = spec["mainApplicationFile"].removeprefix("local://")
    assert main == "/app/spark/steelthread_batch_main.py"
    dockerfile = (REPO / "infra/docker/batch.Dockerfile").read_text()
    assert f"infra/docker/spark/steelthread_batch_main.py {main}" in dockerfile
    assert spec["driver"]["serviceAccount"] == spec["executor"]["serviceAccount"] == "steelthread-batch"
    assert spec["sparkConf"]["spark.sql.parquet.outputTimestampType"] == "TIMESTAMP_MICROS"
    role_bindings = by_kind(load_yaml_docs, "RoleBinding")
    assert any(s["name"] == "steelthread-batch" for rb in role_bindings.values() for s in rb["subjects"])


def test_spark_application_carries_the_engines_settings_and_explicit_memory(load_yaml_docs: Load) -> None:
    """What the embedded session sets (`job_conf`) the cluster run sets too, and its memory is explicit:
    the Python workers live outside the executor heap, in the overhead."""
    from steelthread_batch.spark_session import job_conf

    (app,) = by_kind(load_yaml_docs, "SparkApplication").values()
    spec = app["spec"]
    for key, value in job_conf().items():
        assert spec["sparkConf"].get(key) == value, key
    for role in ("driver", "executor"):
        assert spec[role]["memory"], role
        assert spec[role]["memoryOverhead"], role


def test_spark_version_matches_the_locked_pyspark() -> None:
    lock = (REPO / "uv.lock").read_text()
    match = re.search(r'name = "pyspark"\nversion = "(\d+\.\d+)\.\d+"', lock)
    assert match is not None, "pyspark is not in uv.lock"
    app = (K8S / "spark/batch-score-sparkapplication.yaml").read_text()
    assert f'sparkVersion: "{match.group(1)}.' in app


def test_serving_probes_resources_and_port(load_yaml_docs: Load) -> None:
    for name in ("steelthread-serving", "steelthread-serving-gpu"):
        deployment = by_kind(load_yaml_docs, "Deployment")[name]
        (container,) = pod_spec(deployment)["containers"]
        assert container["ports"][0] == {"name": "http", "containerPort": 8000, "protocol": "TCP"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_serving_metrics_are_scraped_on_their_own_port_which_no_service_exposes(load_yaml_docs: Load) -> None:
    """STEELTHREAD_METRICS_PORT moves /metrics off the API port (404 there): the container declares that
    port, Prometheus' annotation names it, and the Services clients reach forward only the API port."""
    services = by_kind(load_yaml_docs, "Service")
    for name in ("steelthread-serving", "steelthread-serving-gpu"):
        deployment = by_kind(load_yaml_docs, "Deployment")[name]
        (container,) = pod_spec(deployment)["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        port = int(env["STEELTHREAD_METRICS_PORT"])
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": 8000, "metrics": port}, name
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(port), name
        assert annotations["prometheus.io/path"] == "/metrics"
        targets = {p["targetPort"] for p in services[name]["spec"]["ports"]}
        assert targets == {"http"}, f"{name}: the Service must not expose the metrics port"


def test_only_prometheus_namespace_reaches_the_metrics_port(load_yaml_docs: Load) -> None:
    """The NetworkPolicy selects every serving pod (CPU and GPU), lets the API port take any traffic and the
    metrics port only traffic from the namespace of the Pushgateway the monitoring job pushes to (where
    Prometheus runs)."""
    (policy,) = by_kind(load_yaml_docs, "NetworkPolicy").values()
    selector = policy["spec"]["podSelector"]["matchLabels"]
    deployments = by_kind(load_yaml_docs, "Deployment")
    for name in ("steelthread-serving", "steelthread-serving-gpu"):
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), f"the policy does not select {name}'s pods"
    for name in ("steelthread-monitoring", "steelthread-retention"):
        labels = by_kind(load_yaml_docs, "CronJob")[name]["spec"]["jobTemplate"]["spec"]["template"]
        assert not selector.items() <= labels["metadata"].get("labels", {}).items(), name
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    rules = {rule["ports"][0]["port"]: rule for rule in policy["spec"]["ingress"]}
    assert set(rules) == {"http", "metrics"}
    assert "from" not in rules["http"], "the API port takes traffic from anywhere the Services route it"
    (source,) = rules["metrics"]["from"]
    namespace = source["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
    (monitoring,) = pod_spec(by_kind(load_yaml_docs, "CronJob")["steelthread-monitoring"])["containers"]
    pushgateway = " ".join(str(a) for a in monitoring.get("args", []) + monitoring.get("command", []))
    assert f".{namespace}.svc.cluster.local" in pushgateway, "Prometheus' namespace is the Pushgateway's"
    for name in ("steelthread-serving", "steelthread-serving-gpu"):
        (container,) = pod_spec(deployments[name])["containers"]
        assert {p["name"] for p in container["ports"]} == set(rules), name


def test_serving_quotas_are_set_and_counted_in_redis_from_the_secret(load_yaml_docs: Load) -> None:
    """Every quota is set in the shared ConfigMap, each valid for the app's settings, and every replica
    counts in Redis: the online store's URL from the Secret (it holds the Redis token), never memory."""
    from steelthread_serving.quotas import parse_limits

    config = by_kind(load_yaml_docs, "ConfigMap")["steelthread-config"]["data"]
    for variable in QUOTA_SETTINGS:
        assert parse_limits(config[variable]), f"{variable} is missing or empty in steelthread-config"
    from steelthread_serving.settings import ServingSettings

    sync = ServingSettings.model_validate(
        {"api_keys": ["infra-test-key-0123456789"], "quota_sync_ms": config["STEELTHREAD_QUOTA_SYNC_MS"]}
    )
    assert sync.quota_sync_ms > 0, "a round trip to Redis per quota and request costs more than a prediction"
    for name in ("steelthread-serving", "steelthread-serving-gpu"):
        (container,) = pod_spec(by_kind(load_yaml_docs, "Deployment")[name])["containers"]
        env = {e["name"]: e for e in container["env"]}
        ref = env["STEELTHREAD_RATE_LIMIT_STORAGE"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "steelthread-secrets", "key": "STEELTHREAD_REDIS_URL"}, name
        assert "STEELTHREAD_RATE_LIMIT_STORAGE" not in config


def test_service_hpa_and_pdb_select_the_serving_pods(load_yaml_docs: Load) -> None:
    deployment = by_kind(load_yaml_docs, "Deployment")["steelthread-serving"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = by_kind(load_yaml_docs, "Service")["steelthread-serving"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    pdb = by_kind(load_yaml_docs, "PodDisruptionBudget")["steelthread-serving"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = by_kind(load_yaml_docs, "HorizontalPodAutoscaler")["steelthread-serving"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "steelthread-serving")
    assert hpa["spec"]["minReplicas"] >= 2 > pdb["spec"]["minAvailable"], "a drain must not block on the PDB"
    assert deployment["spec"]["replicas"] == hpa["spec"]["minReplicas"]


def test_gpu_serving_requests_a_gpu_and_tolerates_the_terraform_taint(
    load_yaml_docs: Load, hcl: Hcl, terraform_dir: Path
) -> None:
    taint = hcl.locals(terraform_dir / "modules/cluster/main.tf")["gpu_taint"]
    effect = {
        "NO_SCHEDULE": "NoSchedule",
        "NO_EXECUTE": "NoExecute",
        "PREFER_NO_SCHEDULE": "PreferNoSchedule",
    }
    spec = pod_spec(by_kind(load_yaml_docs, "Deployment")["steelthread-serving-gpu"])
    assert {
        "key": taint["key"],
        "operator": "Equal",
        "value": taint["value"],
        "effect": effect[taint["effect"]],
    } in (spec["tolerations"])
    (container,) = spec["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["image"].split(":")[0] == "steelthread-serving-gpu"
    gpu_labels = hcl.locals(terraform_dir / "modules/cluster/main.tf")["gpu_node_group_config"]["gpu"][
        "labels"
    ]
    assert spec["nodeSelector"].items() <= gpu_labels.items()


def test_cpu_workloads_stay_off_gpu_nodes(load_yaml_docs: Load, hcl: Hcl, terraform_dir: Path) -> None:
    cpu_labels = hcl.locals(terraform_dir / "modules/cluster/main.tf")["cpu_node_groups"]["cpu"]["labels"]
    for name, doc in workloads(load_yaml_docs):
        if name == "steelthread-serving-gpu":
            continue
        spec = pod_spec(doc)
        assert "tolerations" not in spec, f"{name} must not tolerate the GPU taint"
        assert spec["nodeSelector"].items() <= cpu_labels.items(), f"{name} must select the CPU nodes"


def test_every_container_has_resources_and_a_locked_down_security_context(load_yaml_docs: Load) -> None:
    for name, doc in workloads(load_yaml_docs):
        spec = pod_spec(doc)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 10001
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in spec["containers"] + spec.get("initContainers", []):
            where = f"{name}/{container['name']}"
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), where
            assert {"cpu", "memory"} <= set(resources["limits"]), where
            ctx = container["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False, where
            assert ctx["readOnlyRootFilesystem"] is True, where
            assert ctx["capabilities"]["drop"] == ["ALL"], where


def test_our_containers_use_fixed_images_and_settings_names(load_yaml_docs: Load) -> None:
    config_maps = by_kind(load_yaml_docs, "ConfigMap")
    assert set(config_maps["steelthread-config"]["data"]) <= SETTINGS
    assert SETTINGS <= SETTINGS_VARIABLES, "every name is one a settings class reads"
    assert config_maps["steelthread-config"]["data"]["STEELTHREAD_PROFILE"] == "production"
    for name, doc in workloads(load_yaml_docs):
        for container in pod_spec(doc)["containers"]:
            image = container["image"].split(":")[0]
            assert image in IMAGES, f"{name}: {image}"
            assert {e["name"] for e in container.get("env", [])} <= SETTINGS
            sources = {
                ref.get("configMapRef", ref.get("secretRef", {}))["name"] for ref in container["envFrom"]
            }
            assert sources == {"steelthread-config", "steelthread-secrets"}, name


def test_jobs_run_the_fixed_clis(load_yaml_docs: Load) -> None:
    crons = by_kind(load_yaml_docs, "CronJob")
    assert set(crons) == set(SCHEDULED)
    (monitor,) = pod_spec(crons["steelthread-monitoring"])["containers"]
    assert monitor["args"][:2] == ["steelthread-monitor", "run"]
    (retention,) = pod_spec(crons["steelthread-retention"])["containers"]
    assert retention["args"] == ["steelthread-monitor", "retention"]
    assert backfill_invocation(crons)[:2] == ["steelthread-eval", "backfill"]
    for name, cron in crons.items():
        assert cron["spec"]["concurrencyPolicy"] == "Forbid", name
    (train,) = pod_spec(by_kind(load_yaml_docs, "Job")["steelthread-training"])["containers"]
    assert train["args"][0] == "steelthread-train"


def test_serving_and_monitoring_share_the_postgresql_prediction_log(load_yaml_docs: Load) -> None:
    """Every serving replica writes, and the monitoring job reads, one store named by one Secret key. The key
    is required (not `optional`), so a Secret without it stops the pod instead of logging to its own disk."""
    names = ["steelthread-serving", "steelthread-serving-gpu", *SCHEDULED]
    docs = by_kind(load_yaml_docs, "Deployment") | by_kind(load_yaml_docs, "CronJob")
    for name in names:
        (container,) = pod_spec(docs[name])["containers"]
        env = {e["name"]: e for e in container.get("env", [])}
        ref = env["STEELTHREAD_PREDICTION_LOG_DSN"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "steelthread-secrets", "key": "STEELTHREAD_PREDICTION_LOG_DSN"}, name
    for name in names[:2]:
        spec = pod_spec(docs[name])
        (container,) = spec["containers"]
        spill = next(
            e["value"] for e in container["env"] if e["name"] == "STEELTHREAD_PREDICTION_LOG_SPILL_DIR"
        )
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert mounts[spill] == "spill", f"{name}: the spill folder is a volume of its own"
        assert "emptyDir" in {v["name"]: v for v in spec["volumes"]}["spill"], name


def test_the_monitoring_job_runs_the_skew_check_against_the_offline_store(load_yaml_docs: Load) -> None:
    """The deployed job recomputes a sample of logged requests' features with the function the monitoring
    image installs, from the offline store training reads (the shared ConfigMap names it)."""
    cron = by_kind(load_yaml_docs, "CronJob")["steelthread-monitoring"]
    (monitor,) = pod_spec(cron)["containers"]
    env = {e["name"]: e.get("value") for e in monitor.get("env", [])}
    function = env["STEELTHREAD_MONITOR_OFFLINE_FEATURES_FN"]
    assert function == "steelthread_features.monitoring:recompute"
    assert callable(callable_source(function))  # an import path that resolves to a function
    assert "--offline-features" not in monitor["args"]  # a parquet file would override the function
    config = by_kind(load_yaml_docs, "ConfigMap")["steelthread-config"]["data"]
    assert config["STEELTHREAD_OFFLINE_STORE_URI"].startswith("s3://")
    assert {r.get("configMapRef", {}).get("name") for r in monitor["envFrom"]} >= {"steelthread-config"}


def backfill_invocation(crons: dict[str, dict[str, Any]]) -> list[str]:
    """The `steelthread-eval backfill ...` line of the backfill CronJob's script, as words."""
    (container,) = pod_spec(crons["steelthread-evaluation-backfill"])["containers"]
    assert container["command"] == ["/bin/sh", "-c"]
    (script,) = container["args"]
    match = re.search(r"^(steelthread-eval backfill[^\n;]*)$", script, re.MULTILINE)
    assert match, script
    return match.group(1).split()


def tolerated_exit_codes(crons: dict[str, dict[str, Any]]) -> set[int]:
    """The exit codes the backfill CronJob's script turns into success."""
    (container,) = pod_spec(crons["steelthread-evaluation-backfill"])["containers"]
    match = re.search(r'case "\$code" in ([0-9|]+)\) exit 0', container["args"][0])
    assert match, container["args"][0]
    return {int(code) for code in match.group(1).split("|")}


def test_scheduled_jobs_share_the_monitoring_jobs_image_settings_and_security(load_yaml_docs: Load) -> None:
    """Retention and backfill run as the monitoring job does: its image, service account (its IRSA role),
    node pool, pod security, ConfigMap and Secret, and the prediction log's required Secret key; the backfill
    mirrors the model packages into the folder the settings name, as the monitoring job does."""
    crons = by_kind(load_yaml_docs, "CronJob")
    monitoring = pod_spec(crons["steelthread-monitoring"])
    (reference,) = monitoring["containers"]
    for name in SCHEDULED[1:]:
        spec = pod_spec(crons[name])
        for key in ("serviceAccountName", "automountServiceAccountToken", "securityContext", "nodeSelector"):
            assert spec[key] == monitoring[key], f"{name}: {key}"
        (container,) = spec["containers"]
        for key in ("image", "envFrom", "securityContext"):
            assert container[key] == reference[key], f"{name}: {key}"
        env = {e["name"]: e for e in container["env"]}
        ref_env = {e["name"]: e for e in reference["env"]}
        dsn = "STEELTHREAD_PREDICTION_LOG_DSN"
        assert env[dsn] == ref_env[dsn], name
        assert {m["name"]: m["mountPath"] for m in container["volumeMounts"]}[
            "data"
        ] == "/var/lib/steelthread"
    backfill = pod_spec(crons["steelthread-evaluation-backfill"])
    assert backfill["initContainers"] == monitoring["initContainers"], "the same model sync"
    models_dir = by_kind(load_yaml_docs, "ConfigMap")["steelthread-config"]["data"]["STEELTHREAD_MODELS_DIR"]
    (container,) = backfill["containers"]
    assert {m["mountPath"]: m["name"] for m in container["volumeMounts"]}[models_dir] == "models"


def test_the_backfill_runs_real_options_daily_on_consecutive_days_and_tolerates_only_waiting(
    load_yaml_docs: Load,
) -> None:
    """The backfill's options are the CLI's own, its window is the schedule's period (one daily run of a 24 h
    window: consecutive cohorts, none skipped or stored twice), and only an empty window or too few labels
    yet pass as success, as in the monitor workflow; retention's command is the CLI's too."""
    from typer.main import get_command

    from steelthread_monitoring.cli import app as monitor_app
    from steelthread_monitoring.cli_eval import app as eval_app

    crons = by_kind(load_yaml_docs, "CronJob")
    words = backfill_invocation(crons)
    backfill = get_command(eval_app).commands["backfill"]  # type: ignore[attr-defined]
    known = {opt for param in backfill.params for opt in param.opts}
    used = {w for w in words[2:] if w.startswith("--")}
    assert used <= known, f"unknown options {sorted(used - known)}"
    window = parse_duration(words[words.index("--window") + 1])
    schedule = crons["steelthread-evaluation-backfill"]["spec"]["schedule"].split()
    assert all(field.isdigit() for field in schedule[:2]), "one minute of one hour"
    assert schedule[2:] == ["*", "*", "*"], "every day"
    assert window.total_seconds() == 24 * 3600
    assert tolerated_exit_codes(crons) == {ExitCode.OK, ExitCode.EMPTY_WINDOW, ExitCode.NO_LABELS}
    assert "retention" in get_command(monitor_app).commands  # type: ignore[attr-defined]


def test_the_configured_retention_is_one_the_retention_job_accepts(
    load_yaml_docs: Load, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ConfigMap's retention, read by the settings as the job reads it, is at least the active use case's
    label delay (a shorter one makes the job refuse to run, exit 7)."""
    data = by_kind(load_yaml_docs, "ConfigMap")["steelthread-config"]["data"]
    label_delay = active().label_delay
    for key in [k for k in os.environ if k.startswith("STEELTHREAD_")]:
        monkeypatch.delenv(key)
    for key, value in data.items():
        monkeypatch.setenv(key, str(value))
    days = MonitorSettings().prediction_log_retention_days
    assert days == int(data["STEELTHREAD_PREDICTION_LOG_RETENTION_DAYS"])
    assert check_retention(days, label_delay).days == days


def test_service_accounts_exist_and_carry_irsa_roles(load_yaml_docs: Load) -> None:
    accounts = by_kind(load_yaml_docs, "ServiceAccount")
    for name, doc in workloads(load_yaml_docs):
        account = pod_spec(doc)["serviceAccountName"]
        assert account in accounts, f"{name}: service account {account} is not defined"
    for account in accounts.values():
        role = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        # The IAM module names IRSA roles <prefix>-<workload> and trusts system:serviceaccount:<ns>:steelthread-<w>.
        assert role.endswith("-" + account["metadata"]["name"].removeprefix("steelthread-"))


def test_kustomizations_list_existing_files(load_yaml_docs: Load) -> None:
    kustomizations = sorted(K8S.rglob("kustomization.yaml"))
    assert len(kustomizations) == 3
    listed: set[Path] = set()
    for path in kustomizations:
        (doc,) = load_yaml_docs(path)
        for resource in doc["resources"]:
            target = (path.parent / resource).resolve()
            assert target.exists(), f"{path.relative_to(REPO)} lists missing {resource}"
            listed.add(target)
        assert doc["namespace"] == "steelthread"
        for image in doc.get("images", []):
            assert image["name"] in IMAGES
    per_run = {"training-job.yaml", "batch-score-sparkapplication.yaml"}
    for manifest in manifest_files():
        if manifest.name not in per_run:
            assert manifest.resolve() in listed, f"{manifest.relative_to(REPO)} is in no kustomization"
