"""Structural rules of the Terraform code, read with python-hcl2 (Terraform itself cannot run here).

Each test names the rule from the infrastructure issue it guards: one environment root uses the shared modules
and serves both stacks, only the GPU stack (its tfvars turn gpu_node_group_enabled on) has a GPU node group (GPU instance types, NVIDIA AMI, taint, device plugin), buckets are encrypted,
versioned and private, the database is encrypted, private and deletion-protected in prod, Redis encrypts in
transit and at rest, variables are typed, described and validated, outputs are described, state is remote.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Hcl, Stack

EXPECTED_MODULES = {"network", "cluster", "storage", "database", "cache", "iam"}
GPU_TYPE = re.compile(r"^(g|p)[0-9]")


def tf_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.tf"))


def all_tf_dirs(terraform_dir: Path) -> list[Path]:
    return sorted({p.parent for p in terraform_dir.rglob("*.tf")})


def merged(hcl: Hcl, directory: Path, kind: str) -> dict[str, tuple[Path, dict[str, Any]]]:
    out: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in tf_files(directory):
        for name, body in hcl.labelled(path, kind).items():
            out[name] = (path, body)
    return out


def resources(hcl: Hcl, module_dir: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    return merged(hcl, module_dir, "resource")


def expr(value: object) -> str:
    """An HCL expression as text without `${}` and whitespace, comparable across hcl2 flavours."""
    text = str(value)
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    text = re.sub(r"\s+", "", text).replace("'", '"')
    # bc-python-hcl2 renders HCL literals inside expressions the Python way.
    for python, literal in (("None", "null"), ("True", "true"), ("False", "false")):
        text = re.sub(rf"\b{python}\b", literal, text)
    return text


# --- the environment root and its stacks ---------------------------------------------------------------------------
def test_root_uses_every_shared_module(hcl: Hcl, env_root: Path) -> None:
    modules = merged(hcl, env_root, "module")
    sources = {name: hcl.attr(path, body, "source") for name, (path, body) in modules.items()}
    local = {name: src for name, src in sources.items() if str(src).startswith("../modules/")}
    assert {Path(src).name for src in local.values()} >= EXPECTED_MODULES
    for src in local.values():
        assert (env_root / src).resolve().is_dir(), f"module source {src} does not exist"


def test_there_is_one_environment_root(terraform_dir: Path, env_root: Path) -> None:
    roots = {p.parent for p in terraform_dir.rglob("versions.tf")} - {
        p.parent for p in (terraform_dir / "modules").rglob("versions.tf")
    }
    assert roots == {env_root}, "stacks differ by tfvars, not by copied roots"


@pytest.mark.parametrize("stack_name", ["cpu", "gpu"])
def test_stack_has_partial_s3_backend_and_per_environment_files(
    stack_name: str, hcl: Hcl, stacks: dict[str, Stack], env_root: Path
) -> None:
    stack = stacks[stack_name]
    path = env_root / "versions.tf"
    (terraform,) = hcl.doc(path)["terraform"]
    backends = hcl.blocks(terraform, "backend")
    assert len(backends) == 1
    assert [k.strip('"') for k in backends[0] if not k.startswith("__")] == ["s3"]
    for environment in ("dev", "staging", "prod"):
        backend_file = stack.backend(environment)
        config = hcl.doc(backend_file)
        key = hcl.attr(backend_file, config, "key")
        assert key == f"{stack.name}/{environment}/terraform.tfstate", (
            "each stack and stage needs its own state"
        )
        assert hcl.attr(backend_file, config, "encrypt") is True
        assert hcl.attr(backend_file, config, "use_lockfile") is True
        tfvars = stack.tfvars(environment)
        doc = hcl.doc(tfvars)
        assert hcl.attr(tfvars, doc, "environment") == environment
        assert hcl.attr(tfvars, doc, "gpu_node_group_enabled") is stack.gpu, (
            "the stack's tfvars set the toggle"
        )


def test_provider_applies_default_tags(hcl: Hcl, env_root: Path) -> None:
    path = env_root / "versions.tf"
    providers = hcl.labelled(path, "provider")
    default_tags = hcl.blocks(providers["aws"], "default_tags")
    assert len(default_tags) == 1
    assert expr(hcl.attr(path, default_tags[0], "tags")) == "local.tags"
    local = hcl.locals(env_root / "main.tf")
    assert {"Project", "Environment", "Owner", "ManagedBy", "Stack"} <= set(local["tags"])
    assert expr(local["tags"]["Stack"]) == "local.stack"
    assert expr(local["stack"]) == 'var.gpu_node_group_enabled?"gpu":"cpu"'


def test_stacks_get_distinct_names(hcl: Hcl, env_root: Path) -> None:
    local = hcl.locals(env_root / "main.tf")
    assert expr(local["name_infix"]) == 'var.gpu_node_group_enabled?"-gpu":""'
    assert "local.name_infix" in expr(local["name"])
    path, storage = merged(hcl, env_root, "module")["storage"]
    assert "local.name_infix" in expr(hcl.attr(path, storage, "name_prefix"))


# --- GPU pool only in the GPU stack -------------------------------------------------------------------------------
def cluster_call(hcl: Hcl, root: Path) -> tuple[Path, dict[str, Any]]:
    return merged(hcl, root, "module")["cluster"]


def test_gpu_toggle_is_off_by_default(hcl: Hcl, env_root: Path) -> None:
    path = env_root / "variables.tf"
    toggle = hcl.labelled(path, "variable")["gpu_node_group_enabled"]
    assert hcl.attr(path, toggle, "type") in {"bool", "${bool}"}
    assert hcl.attr(path, toggle, "default") is False


def test_gpu_node_group_and_device_plugin_exist_only_with_the_toggle(hcl: Hcl, env_root: Path) -> None:
    path, body = cluster_call(hcl, env_root)
    group = expr(hcl.attr(path, body, "gpu_node_group"))
    assert group.startswith("var.gpu_node_group_enabled?{")
    assert group.endswith("}:null"), "off means no GPU node group at all"
    assert "var.gpu_instance_types" in group
    assert "var.gpu_ami_type" in group
    plugin_path, plugin = merged(hcl, env_root, "module")["nvidia_device_plugin"]
    assert hcl.attr(plugin_path, plugin, "source") == "../modules/nvidia-device-plugin"
    assert expr(hcl.attr(plugin_path, plugin, "count")) == "var.gpu_node_group_enabled?1:0"
    moved = hcl.doc(env_root / "main.tf").get("moved", [])
    assert [
        (expr(hcl.attr(env_root / "main.tf", m, "from")), expr(hcl.attr(env_root / "main.tf", m, "to")))
        for m in moved
    ] == [("module.nvidia_device_plugin", "module.nvidia_device_plugin[0]")], (
        "the GPU stack's existing state keeps its device plugin"
    )


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_cpu_stack_has_no_gpu_node_group(environment: str, hcl: Hcl, stacks: dict[str, Stack]) -> None:
    path = stacks["cpu"].tfvars(environment)
    doc = hcl.doc(path)
    assert hcl.attr(path, doc, "gpu_node_group_enabled") is False
    assert not [k for k in doc if k.startswith("gpu_") and k != "gpu_node_group_enabled"], (
        "GPU sizes in the CPU stack"
    )
    assert not any(GPU_TYPE.match(t) for t in hcl.attr(path, doc, "cpu_instance_types"))


def test_cluster_module_defaults_to_no_gpu_node_group(hcl: Hcl) -> None:
    path = Path(__file__).resolve().parents[2] / "infra/terraform/modules/cluster/variables.tf"
    variables = hcl.labelled(path, "variable")
    assert hcl.attr(path, variables["gpu_node_group"], "default", default="missing") is None


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_gpu_tfvars_name_gpu_instance_types_only(
    environment: str, hcl: Hcl, stacks: dict[str, Stack]
) -> None:
    path = stacks["gpu"].tfvars(environment)
    doc = hcl.doc(path)
    assert hcl.attr(path, doc, "gpu_node_group_enabled") is True
    gpu_types = hcl.attr(path, doc, "gpu_instance_types")
    assert gpu_types, "each GPU stage sets its GPU instance types"
    assert all(GPU_TYPE.match(t) for t in gpu_types)
    assert not any(GPU_TYPE.match(t) for t in hcl.attr(path, doc, "cpu_instance_types"))
    assert hcl.attr(path, doc, "gpu_ami_type") in {"AL2023_x86_64_NVIDIA", "AL2_x86_64_GPU"}


def test_gpu_node_group_is_tainted_and_uses_the_requested_ami(hcl: Hcl, terraform_dir: Path) -> None:
    path = terraform_dir / "modules/cluster/main.tf"
    local = hcl.locals(path)
    assert local["gpu_taint"] == {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}
    gpu = local["gpu_node_group_config"]["gpu"]
    assert expr(gpu["taints"]["gpu"]) == "local.gpu_taint"
    assert expr(gpu["ami_type"]) == "try(var.gpu_node_group.ami_type,null)"
    assert expr(gpu["instance_types"]) == "try(var.gpu_node_group.instance_types,[])"
    assert local["cpu_node_groups"]["cpu"]["taints"] == {}
    assert local["cpu_node_groups"]["cpu"]["ami_type"] == "AL2023_x86_64_STANDARD"
    # The GPU group only exists when the variable is set.
    assert "ifvar.gpu_node_group!=null" in expr(local["gpu_node_groups"])


def test_device_plugin_tolerates_the_gpu_taint(hcl: Hcl, terraform_dir: Path) -> None:
    path = terraform_dir / "modules/nvidia-device-plugin/main.tf"
    (release_path, release) = resources(hcl, path.parent)["helm_release.nvidia_device_plugin"]
    assert hcl.attr(release_path, release, "chart") == "nvidia-device-plugin"
    assert hcl.attr(release_path, release, "repository") == "https://nvidia.github.io/k8s-device-plugin"
    values = expr(hcl.attr(release_path, release, "values"))
    assert '"nvidia.com/gpu"' in values
    assert '"NoSchedule"' in values


# --- storage ------------------------------------------------------------------------------------------------------
def test_every_bucket_is_encrypted_versioned_private_and_tls_only(hcl: Hcl, terraform_dir: Path) -> None:
    res = resources(hcl, terraform_dir / "modules/storage")
    buckets = [name for name in res if name.startswith("aws_s3_bucket.")]
    assert sorted(buckets) == ["aws_s3_bucket.logs", "aws_s3_bucket.this"]
    local = hcl.locals(terraform_dir / "modules/storage/main.tf")
    assert set(local["buckets"]) == {"mlflow-artifacts", "feast-offline", "model-packages"}
    for suffix in ("logs", "this"):
        path, sse = res[f"aws_s3_bucket_server_side_encryption_configuration.{suffix}"]
        (rule,) = hcl.blocks(sse, "rule")
        (default,) = hcl.blocks(rule, "apply_server_side_encryption_by_default")
        if suffix == "this":
            assert hcl.attr(path, default, "sse_algorithm") == "aws:kms"
            assert expr(hcl.attr(path, default, "kms_master_key_id")) == "aws_kms_key.storage.arn"
        else:
            # S3 server access logs can only be delivered to an SSE-S3 bucket.
            assert hcl.attr(path, default, "sse_algorithm") == "AES256"

        path, versioning = res[f"aws_s3_bucket_versioning.{suffix}"]
        (config,) = hcl.blocks(versioning, "versioning_configuration")
        assert hcl.attr(path, config, "status") == "Enabled"

        path, pab = res[f"aws_s3_bucket_public_access_block.{suffix}"]
        for setting in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        ):
            assert hcl.attr(path, pab, setting) is True, f"{suffix}: {setting} must be true"

        assert f"aws_s3_bucket_policy.{suffix}" in res
    for data_name in ("aws_iam_policy_document.tls_only", "aws_iam_policy_document.logs"):
        path, doc = merged(hcl, terraform_dir / "modules/storage", "data")[data_name]
        deny = [s for s in hcl.blocks(doc, "statement") if hcl.attr(path, s, "effect") == "Deny"]
        assert len(deny) == 1
        (condition,) = hcl.blocks(deny[0], "condition")
        assert hcl.attr(path, condition, "variable") == "aws:SecureTransport"
        assert hcl.attr(path, condition, "values") == ["false"]
    path, key = res["aws_kms_key.storage"]
    assert hcl.attr(path, key, "enable_key_rotation") is True


# --- database -----------------------------------------------------------------------------------------------------
def test_database_is_encrypted_private_backed_up_and_protection_is_a_variable(
    hcl: Hcl, terraform_dir: Path
) -> None:
    path, db = resources(hcl, terraform_dir / "modules/database")["aws_db_instance.this"]
    assert hcl.attr(path, db, "storage_encrypted") is True
    assert hcl.attr(path, db, "publicly_accessible") is False
    assert expr(hcl.attr(path, db, "deletion_protection")) == "var.deletion_protection"
    assert expr(hcl.attr(path, db, "backup_retention_period")) == "var.backup_retention_days"
    assert hcl.attr(path, db, "skip_final_snapshot") is False
    assert hcl.attr(path, db, "manage_master_user_password") is True, "no password may pass through state"


@pytest.mark.parametrize("stack_name", ["cpu", "gpu"])
def test_stacks_force_deletion_protection_in_prod(
    stack_name: str, hcl: Hcl, stacks: dict[str, Stack], env_root: Path
) -> None:
    path, call = merged(hcl, env_root, "module")["database"]
    wiring = expr(hcl.attr(path, call, "deletion_protection"))
    assert wiring == 'var.environment=="prod"?true:var.deletion_protection'
    prod = stacks[stack_name].tfvars("prod")
    assert hcl.attr(prod, hcl.doc(prod), "deletion_protection") is True


# --- cache --------------------------------------------------------------------------------------------------------
def test_redis_encrypts_at_rest_and_in_transit_with_a_secret_auth_token(
    hcl: Hcl, terraform_dir: Path
) -> None:
    res = resources(hcl, terraform_dir / "modules/cache")
    path, group = res["aws_elasticache_replication_group.this"]
    assert hcl.attr(path, group, "at_rest_encryption_enabled") is True
    assert hcl.attr(path, group, "transit_encryption_enabled") is True
    assert expr(hcl.attr(path, group, "kms_key_id")) == "aws_kms_key.cache.arn"
    assert expr(hcl.attr(path, group, "auth_token")) == (
        "aws_secretsmanager_secret_version.auth_token.secret_string"
    )
    path, secret = res["aws_secretsmanager_secret.auth_token"]
    assert expr(hcl.attr(path, secret, "kms_key_id")) == "aws_kms_key.cache.arn"


# --- iam ----------------------------------------------------------------------------------------------------------
def test_github_role_trusts_one_repository_and_named_refs_only(hcl: Hcl, terraform_dir: Path) -> None:
    module = terraform_dir / "modules/iam"
    res = resources(hcl, module)
    assert not any(name.startswith("aws_iam_access_key") or name.startswith("aws_iam_user") for name in res)
    path, provider = res["aws_iam_openid_connect_provider.github"]
    assert hcl.attr(path, provider, "url") == "https://token.actions.githubusercontent.com"
    path, assume = merged(hcl, module, "data")["aws_iam_policy_document.github_assume"]
    (statement,) = hcl.blocks(assume, "statement")
    conditions = {hcl.attr(path, c, "variable"): c for c in hcl.blocks(statement, "condition")}
    sub = conditions["token.actions.githubusercontent.com:sub"]
    assert hcl.attr(path, sub, "test") == "StringEquals", "StringLike would admit wildcards"
    assert expr(hcl.attr(path, sub, "values")) == "local.github_subjects"
    subjects = expr(hcl.locals(module / "main.tf")["github_subjects"])
    assert "repo:${var.github_repository}:ref:refs/heads/${b}" in subjects


def test_irsa_roles_are_bound_to_one_service_account_each(hcl: Hcl, terraform_dir: Path) -> None:
    module = terraform_dir / "modules/iam"
    path, assume = merged(hcl, module, "data")["aws_iam_policy_document.irsa_assume"]
    (statement,) = hcl.blocks(assume, "statement")
    values = [hcl.attr(path, c, "values") for c in hcl.blocks(statement, "condition")]
    assert ["system:serviceaccount:${var.namespace}:steelthread-${each.key}"] in values
    workloads = hcl.locals(module / "main.tf")["workloads"]
    assert set(workloads) == {"serving", "training", "monitoring", "batch"}
    assert workloads["serving"]["write"] == [], "serving only reads model packages"
    path, policy = merged(hcl, module, "data")["aws_iam_policy_document.workload"]
    actions = [hcl.attr(path, s, "actions") for s in hcl.blocks(policy, "statement")]
    flat = [a for group in actions for a in group]
    assert not any(a.endswith(":*") or a == "*" for a in flat), "no wildcard actions in workload roles"


# --- variables and outputs ----------------------------------------------------------------------------------------
def variables_everywhere(hcl: Hcl, terraform_dir: Path) -> list[tuple[str, Path, dict[str, Any]]]:
    found: list[tuple[str, Path, dict[str, Any]]] = []
    for directory in all_tf_dirs(terraform_dir):
        for name, (path, body) in merged(hcl, directory, "variable").items():
            found.append((name, path, body))
    return found


def test_every_variable_has_a_type_and_a_description(hcl: Hcl, terraform_dir: Path) -> None:
    found = variables_everywhere(hcl, terraform_dir)
    assert len(found) > 60
    for name, path, body in found:
        where = f"{path.relative_to(terraform_dir)}: variable {name}"
        assert hcl.attr(path, body, "type"), f"{where} has no type"
        description = hcl.attr(path, body, "description")
        assert len(description or "") >= 10, f"{where} needs a description"


CONSTRAINED = re.compile(
    r"(instance_types?|_class|node_type|environment$|region$|cidr|_version$|retention|_days$|prefix$|"
    r"^name$|identifier|_id$|github_|namespace|_min$|_max$|_desired$|num_|availability_zones|node_group$)"
)
# IDs produced by other modules; Terraform checks them against AWS at plan time.
UNCONSTRAINED_BY_DESIGN = {"vpc_id"}


def test_constrained_variables_have_validation_with_a_clear_message(hcl: Hcl, terraform_dir: Path) -> None:
    for name, path, body in variables_everywhere(hcl, terraform_dir):
        validations = hcl.blocks(body, "validation")
        where = f"{path.relative_to(terraform_dir)}: variable {name}"
        is_bool = expr(hcl.attr(path, body, "type")) == "bool"
        if CONSTRAINED.search(name) and name not in UNCONSTRAINED_BY_DESIGN and not is_bool:
            assert validations, f"{where} takes constrained values but has no validation block"
        for validation in validations:
            message = hcl.attr(path, validation, "error_message")
            assert str(message or "").rstrip().endswith("."), f"{where}: error_message must be a sentence"
            head = name.split("_")[0]
            assert head in message, f"{where}: error_message should name the variable"


def test_every_output_has_a_description(hcl: Hcl, terraform_dir: Path) -> None:
    count = 0
    for directory in all_tf_dirs(terraform_dir):
        for name, (path, body) in merged(hcl, directory, "output").items():
            count += 1
            description = hcl.attr(path, body, "description")
            assert len(description or "") >= 10, f"{path}: output {name} needs a description"
    assert count > 30


def test_every_module_pins_terraform_and_providers(hcl: Hcl, terraform_dir: Path) -> None:
    for directory in all_tf_dirs(terraform_dir):
        path = directory / "versions.tf"
        assert path.is_file(), f"{directory} has no versions.tf"
        (terraform,) = hcl.doc(path)["terraform"]
        assert hcl.attr(path, terraform, "required_version") == ">= 1.10.0"
        (providers,) = hcl.blocks(terraform, "required_providers")
        for provider_name, spec in providers.items():
            if provider_name.startswith("__"):
                continue
            spec_value = spec[0] if isinstance(spec, list) else spec
            version = str(spec_value["version"]).strip('"')
            assert "<" in version, f"{path}: provider {provider_name} needs an upper bound"


def test_registry_modules_are_version_pinned(hcl: Hcl, terraform_dir: Path) -> None:
    seen = {}
    for directory in all_tf_dirs(terraform_dir):
        for path, body in merged(hcl, directory, "module").values():
            source = hcl.attr(path, body, "source")
            if not str(source).startswith("."):
                seen[source] = hcl.attr(path, body, "version")
    assert seen == {"terraform-aws-modules/vpc/aws": "~> 5.21", "terraform-aws-modules/eks/aws": "~> 20.37"}
