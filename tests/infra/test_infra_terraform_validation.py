"""Bad input: every Terraform variable validation accepts good values and rejects bad ones with its message.

Terraform cannot run here, so the `condition` expressions are evaluated by a small interpreter of the HCL
subset they use (logic, comparisons, `for` lists, can/try/regex/contains/length/alltrue/cidrhost/...). Anything
outside that subset raises, so a new kind of condition fails these tests instead of passing unexamined.
Every variable with a validation block must have cases below: adding a validation means adding its cases.
"""

from __future__ import annotations

import ast
import ipaddress
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Hcl, Stack

# --- a tiny HCL expression interpreter ------------------------------------------------------------------------------
TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<pystring>\'(?:[^\'\\]|\\.)*\')|(?P<number>\d+(?:\.\d+)?)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)'
    r"|(?P<op>&&|\|\||==|!=|>=|<=|=>|[!<>()\[\],:.?+\-*/%{}]))"
)
KEYWORDS = {"true": "True", "false": "False", "null": "None"}


class Obj:
    """Attribute access over a Terraform object value, as `var.x.y` needs."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._values:
            raise AttributeError(f"unknown attribute {name}")
        return wrap(self._values[name])


def wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return Obj(value)
    return value


def _regex(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise ValueError(f"pattern {pattern!r} does not match {text!r}")
    return match.group(0)


def _can(thunk: Callable[[], Any]) -> bool:
    try:
        thunk()
    except Exception:
        return False
    return True


def _try(*thunks: Callable[[], Any]) -> Any:
    for thunk in thunks:
        try:
            return thunk()
        except Exception:
            continue
    raise ValueError("no expression in try() succeeded")


def _cidrhost(prefix: str, host: int) -> str:
    if "/" not in prefix:
        raise ValueError(f"{prefix!r} is not a CIDR block")
    network = ipaddress.ip_network(prefix, strict=False)
    return str(network[host])


def _tonumber(value: Any) -> float:
    return float(value)


def _contains(collection: list[Any], value: Any) -> bool:
    return value in collection


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "alltrue": lambda xs: all(bool(x) for x in xs),
    "anytrue": lambda xs: any(bool(x) for x in xs),
    "length": len,
    "contains": _contains,
    "regex": _regex,
    "cidrhost": _cidrhost,
    "split": lambda sep, text: text.split(sep),
    "tonumber": _tonumber,
    "startswith": lambda text, prefix: text.startswith(prefix),
    "keys": lambda mapping: list(vars(mapping)["_values"]),
    "trimspace": lambda text: text.strip(),
}
LAZY = {"can": "_can", "try": "_try"}


def tokenize(source: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    source = source.strip()
    while pos < len(source):
        match = TOKEN.match(source, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"cannot read HCL at {source[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def split_top(tokens: list[tuple[str, str]], separator: str) -> list[list[tuple[str, str]]]:
    parts: list[list[tuple[str, str]]] = [[]]
    depth = 0
    for token in tokens:
        if token[1] in "([{" and token[0] == "op":
            depth += 1
        elif token[1] in ")]}" and token[0] == "op":
            depth -= 1
        if depth == 0 and token == ("op", separator):
            parts.append([])
        else:
            parts[-1].append(token)
    return parts


def matching(tokens: list[tuple[str, str]], start: int) -> int:
    depth = 0
    for i in range(start, len(tokens)):
        if tokens[i][0] == "op" and tokens[i][1] in "([{":
            depth += 1
        elif tokens[i][0] == "op" and tokens[i][1] in ")]}":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError("unbalanced brackets")


def to_python(tokens: list[tuple[str, str]]) -> str:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        if kind == "string":
            literal = text[1:-1]
            if "${" in literal:
                raise ValueError("string templates are outside the supported subset")
            out.append(repr(literal.replace('\\"', '"').replace("\\\\", "\\")))
        elif kind == "pystring":
            # bc-python-hcl2 renders string literals inside lists the Python way ('a'); keep them as they are.
            out.append(repr(ast.literal_eval(text)))
        elif kind == "number":
            out.append(text)
        elif kind == "ident" and i + 1 < len(tokens) and tokens[i + 1] == ("op", "("):
            end = matching(tokens, i + 1)
            args = [to_python(a) for a in split_top(tokens[i + 2 : end], ",") if a]
            if text in LAZY:
                out.append(f"{LAZY[text]}(" + ", ".join(f"lambda: ({a})" for a in args) + ")")
            elif text in FUNCTIONS:
                out.append(f"_fn_{text}(" + ", ".join(args) + ")")
            else:
                raise ValueError(f"function {text}() is outside the supported subset")
            i = end
        elif kind == "ident" and text in KEYWORDS:
            out.append(KEYWORDS[text])
        elif kind == "ident":
            out.append(text)
        elif text == "[" and i + 1 < len(tokens) and tokens[i + 1] == ("ident", "for"):
            end = matching(tokens, i)
            inner = tokens[i + 2 : end]
            head, body = split_top(inner, ":")[0], [t for part in split_top(inner, ":")[1:] for t in part]
            names = [t[1] for t in head[: head.index(("ident", "in"))] if t[0] == "ident"]
            source = head[head.index(("ident", "in")) + 1 :]
            condition: list[tuple[str, str]] = []
            if ("ident", "if") in body:
                cut = body.index(("ident", "if"))
                body, condition = body[:cut], body[cut + 1 :]
            target = ", ".join(names)
            comp = f"[({to_python(body)}) for {target} in ({to_python(source)})"
            out.append(comp + (f" if ({to_python(condition)})]" if condition else "]"))
            i = end
        elif text == "&&":
            out.append(" and ")
        elif text == "||":
            out.append(" or ")
        elif text == "!":
            out.append(" not ")
        elif text in {"?", "=>", "{", "}", "%"}:
            raise ValueError(f"operator {text} is outside the supported subset")
        else:
            out.append(f" {text} " if text not in ".()[]" else text)
        i += 1
    return "".join(out)


def evaluate(condition: str, variables: dict[str, Any]) -> bool:
    text = condition.strip()
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    python = to_python(tokenize(text))
    scope: dict[str, Any] = {f"_fn_{name}": fn for name, fn in FUNCTIONS.items()}
    scope.update({"_can": _can, "_try": _try, "var": Obj(variables), "__builtins__": {}})
    result = eval(python, scope)
    if not isinstance(result, bool):
        raise ValueError(f"condition did not yield a bool: {condition}")
    return result


def test_interpreter_follows_terraform_semantics() -> None:
    env = {"x": ["g6.xlarge", "m5.large"], "n": None, "cidr": "10.0.0.0/16", "o": {"a": 1}}
    assert evaluate('alltrue([for t in var.x : can(regex("^(g|p)[0-9]", t))])', env) is False
    assert evaluate('anytrue([for t in var.x : can(regex("^(g|p)[0-9]", t))])', env) is True
    assert evaluate("var.n == null || length(try(var.n.items, [])) > 0", env) is True
    assert evaluate('can(cidrhost(var.cidr, 0)) && tonumber(split("/", var.cidr)[1]) <= 20', env) is True
    assert evaluate('can(cidrhost("10.0.0.0", 0))', env) is False
    assert evaluate('!can(regex("a", "b")) && var.o.a >= 1', env) is True
    with pytest.raises(ValueError, match="outside the supported subset"):
        evaluate('lookup(var.o, "a") == 1', env)
    with pytest.raises(ValueError, match="outside the supported subset"):
        evaluate("var.n == null ? true : false", env)


# --- cases ----------------------------------------------------------------------------------------------------------
# variable -> (values that must pass, values that must fail). A "dir:name" key overrides for one directory.
GOOD_BAD: dict[str, tuple[list[Any], list[Any]]] = {
    "name": (["steelthread-dev"], ["Steelthread", "ab", "steelthread-"]),
    "vpc_cidr": (["10.20.0.0/16", "10.0.0.0/20"], ["10.20.0.0/24", "10.20.0.0", "not-a-cidr"]),
    "flow_log_retention_days": ([365, 30], [0, 45]),
    "cluster_name": (["steelthread-prod"], ["1cluster", "bad_name"]),
    "kubernetes_version": (["1.33"], ["1.33.1", "v1.33", "2"]),
    "subnet_ids": ([["subnet-a", "subnet-b"]], [["subnet-a"]]),
    "endpoint_public_access_cidrs": ([[], ["203.0.113.0/24"]], [["0.0.0.0/0"], ["nope"]]),
    "cpu_node_group": (
        [{"instance_types": ["m7i.large"], "min_size": 1, "max_size": 3, "desired_size": 2}],
        [
            {"instance_types": ["g6.xlarge"], "min_size": 1, "max_size": 3, "desired_size": 2},
            {"instance_types": [], "min_size": 1, "max_size": 3, "desired_size": 2},
            {"instance_types": ["m7i.large"], "min_size": 3, "max_size": 2, "desired_size": 2},
            {"instance_types": ["m7i.large"], "min_size": 0, "max_size": 2, "desired_size": 1},
        ],
    ),
    "gpu_node_group": (
        [
            None,
            {
                "instance_types": ["g6.xlarge", "p5.48xlarge"],
                "ami_type": "AL2023_x86_64_NVIDIA",
                "min_size": 0,
                "max_size": 2,
                "desired_size": 1,
            },
        ],
        [
            {
                "instance_types": ["m5.large"],
                "ami_type": "AL2023_x86_64_NVIDIA",
                "min_size": 0,
                "max_size": 2,
                "desired_size": 1,
            },
            {
                "instance_types": ["g6.xlarge"],
                "ami_type": "AL2023_x86_64_STANDARD",
                "min_size": 0,
                "max_size": 2,
                "desired_size": 1,
            },
            {
                "instance_types": ["g6.xlarge"],
                "ami_type": "AL2023_x86_64_NVIDIA",
                "min_size": 0,
                "max_size": 0,
                "desired_size": 0,
            },
            {
                "instance_types": [],
                "ami_type": "AL2023_x86_64_NVIDIA",
                "min_size": 0,
                "max_size": 1,
                "desired_size": 0,
            },
        ],
    ),
    "log_retention_days": ([90, 365], [30]),
    "chart_version": (["0.17.4"], ["latest", "v0.17"]),
    "namespace": (["steelthread", "kube-system"], ["Steelthread", "-ns", "ns_1"]),
    "name_prefix": (["acme-steelthread-prod"], ["Acme", "ab", "x" * 50]),
    "iam:name_prefix": (["steelthread-prod", "Steelthread-Prod"], ["1abc", "a" * 42, "with space"]),
    "noncurrent_version_expiration_days": ([7, 90], [1]),
    "access_log_retention_days": ([30, 365], [7]),
    "identifier": (["steelthread-prod"], ["Steelthread", "steelthread--prod", "steelthread-", "1db"]),
    "allowed_security_group_ids": ([["sg-123"]], [[]]),
    "engine_version": (["16", "17"], ["14", "16.4"]),
    "cache:engine_version": (["7.1", "6.2"], ["5.0", "7", "7.1.0"]),
    "instance_class": (["db.t4g.medium"], ["t4g.medium", "db.t4g"]),
    "allocated_storage_gib": ([20, 100], [10, 70000]),
    "max_allocated_storage_gib": ([200], [5]),
    "backup_retention_days": ([1, 35], [0, 36]),
    "database_name": (["steelthread", "mlflow_db"], ["1db", "my-db"]),
    "replication_group_id": (["steelthread-prod"], ["Steelthread", "a" * 41, "steelthread-"]),
    "node_type": (["cache.t4g.medium"], ["t4g.medium", "cache.t4g"]),
    "num_cache_clusters": ([1, 6], [0, 7]),
    "snapshot_retention_days": ([1, 35], [0, 36]),
    "bucket_arns": (
        [{"mlflow-artifacts": "arn:a", "feast-offline": "arn:b", "model-packages": "arn:c"}],
        [{"mlflow-artifacts": "arn:a"}],
    ),
    "github_repository": (["acme/steelthread", "Acme-Org/steel.thread"], ["steelthread", "acme/*", "a/b/c"]),
    "github_branches": ([["main"], ["main", "release/1.x"]], [[], ["*"], ["feature/*"]]),
    "github_environments": ([[], ["prod"]], [["prod*"]]),
    "project": (["steelthread"], ["Steelthread", "s", "a" * 30]),
    "environment": (["dev", "staging", "prod"], ["production", "test", ""]),
    "region": (["eu-west-1", "us-gov-west-1"], ["eu-west", "EU-WEST-1", "euwest1"]),
    "owner": (["ml-platform"], ["", "   "]),
    "bucket_prefix": (["acme-steelthread"], ["Acme", "ab", "a" * 30]),
    "availability_zones": ([["eu-west-1a", "eu-west-1b"]], [["eu-west-1a"], ["us-east-1a", "us-east-1b"]]),
    "network:availability_zones": (
        [["eu-west-1a", "eu-west-1b"]],
        [["eu-west-1a"], ["a", "b", "c", "d", "e"]],
    ),
    "cpu_instance_types": ([["m7i.large", "c7i.xlarge"]], [["g6.xlarge"], ["p4d.24xlarge"], [], ["large"]]),
    "cpu_node_min": ([1, 3], [0, 101]),
    "cpu_node_desired": ([3], [1, 11]),
    "cpu_node_max": ([10], [2, 101]),
    "db_instance_class": (["db.r7g.large"], ["r7g.large"]),
    "db_backup_retention_days": ([7, 30], [0, 36]),
    "deletion_protection": ([True], [False]),
    "redis_node_type": (["cache.r7g.large"], ["r7g.large"]),
    "redis_num_nodes": ([1, 3], [0, 7]),
    "gpu_instance_types": (
        [["g6.xlarge"], ["g5.2xlarge", "p5.48xlarge"]],
        [["m5.large"], ["g6.xlarge", "m7i.large"], [], ["c7i.xlarge"]],
    ),
    "gpu_ami_type": (["AL2023_x86_64_NVIDIA", "AL2_x86_64_GPU"], ["AL2023_x86_64_STANDARD", "AL2_x86_64"]),
    "gpu_node_min": ([0, 1], [-1, 51]),
    "gpu_node_desired": ([1], [5]),
    "gpu_node_max": ([1, 4], [0, 51]),
    "nvidia_device_plugin_version": (["0.17.4"], ["latest"]),
}
# Context for cross-variable conditions (Terraform >= 1.9): the GPU stack's prod values in the environment root,
# where the checks bite hardest (deletion protection) and every GPU variable is set.
ROOT_CONTEXT_FILE = Path("gpu") / "prod.tfvars"


def validated_variables(hcl: Hcl, terraform_dir: Path) -> list[tuple[Path, str, dict[str, Any]]]:
    found = []
    for path in sorted(terraform_dir.rglob("variables.tf")):
        for name, body in hcl.labelled(path, "variable").items():
            if hcl.blocks(body, "validation"):
                found.append((path, name, body))
    return found


def context_for(hcl: Hcl, path: Path) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for name, body in hcl.labelled(path, "variable").items():
        context[name] = hcl.attr(path, body, "default")
    tfvars = path.parent / ROOT_CONTEXT_FILE
    if tfvars.is_file():
        doc = hcl.doc(tfvars)
        for key in doc:
            if not key.startswith("__"):
                context[key] = hcl.attr(tfvars, doc, key)
    return context


def cases_for(path: Path, name: str) -> tuple[list[Any], list[Any]]:
    directory = path.parent.name
    key = f"{directory}:{name}"
    if key in GOOD_BAD:
        return GOOD_BAD[key]
    if name not in GOOD_BAD:
        pytest.fail(f"{path}: variable {name} has a validation but no good/bad cases in this test")
    return GOOD_BAD[name]


def conditions(hcl: Hcl, path: Path, body: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (str(hcl.attr(path, v, "condition")), str(hcl.attr(path, v, "error_message")))
        for v in hcl.blocks(body, "validation")
    ]


def test_every_validated_variable_has_cases(hcl: Hcl, terraform_dir: Path) -> None:
    found = validated_variables(hcl, terraform_dir)
    assert len(found) >= 60
    for path, name, _ in found:
        good, bad = cases_for(path, name)
        assert good
        assert bad


def test_good_values_pass_every_validation(hcl: Hcl, terraform_dir: Path) -> None:
    for path, name, body in validated_variables(hcl, terraform_dir):
        good, _ = cases_for(path, name)
        for value in good:
            env = context_for(hcl, path) | {name: value}
            for condition, message in conditions(hcl, path, body):
                assert evaluate(condition, env), f"{path.parent.name}: {name}={value!r} rejected: {message}"


def test_bad_values_are_rejected_with_a_message_naming_the_variable(hcl: Hcl, terraform_dir: Path) -> None:
    for path, name, body in validated_variables(hcl, terraform_dir):
        _, bad = cases_for(path, name)
        for value in bad:
            env = context_for(hcl, path) | {name: value}
            failing = [msg for cond, msg in conditions(hcl, path, body) if not evaluate(cond, env)]
            assert failing, f"{path.parent.name}: {name}={value!r} was accepted"
            assert any(name.split("_")[0] in msg for msg in failing), f"{name}: messages {failing}"


@pytest.mark.parametrize("stack_name", ["cpu", "gpu"])
@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_shipped_tfvars_pass_every_validation(
    stack_name: str, environment: str, hcl: Hcl, stacks: dict[str, Stack], env_root: Path
) -> None:
    path = env_root / "variables.tf"
    tfvars = stacks[stack_name].tfvars(environment)
    doc = hcl.doc(tfvars)
    declared = hcl.labelled(path, "variable")
    set_here = [k for k in doc if not k.startswith("__")]
    assert set(set_here) <= set(declared), f"{tfvars}: undeclared {sorted(set(set_here) - set(declared))}"
    env = {n: hcl.attr(path, b, "default") for n, b in declared.items()}
    env |= {k: hcl.attr(tfvars, doc, k) for k in set_here}
    required = [n for n, b in declared.items() if "default" not in b]
    assert all(env.get(n) is not None for n in required), f"{tfvars.name} misses a required variable"
    for name, body in declared.items():
        for condition, message in conditions(hcl, path, body):
            assert evaluate(condition, env), f"{tfvars.name}: {name} fails: {message}"


def test_gpu_stack_rejects_a_cpu_instance_type_with_a_clear_message(hcl: Hcl, env_root: Path) -> None:
    path = env_root / "variables.tf"
    body = hcl.labelled(path, "variable")["gpu_instance_types"]
    ((condition, message),) = conditions(hcl, path, body)
    assert not evaluate(condition, {"gpu_instance_types": ["m7i.large"]})
    assert "GPU instance types only" in message
    assert "g6.xlarge" in message, "the message shows a valid example"


def test_prod_refuses_deletion_protection_off(hcl: Hcl, env_root: Path) -> None:
    path = env_root / "variables.tf"
    ((condition, message),) = conditions(hcl, path, hcl.labelled(path, "variable")["deletion_protection"])
    assert not evaluate(condition, {"environment": "prod", "deletion_protection": False})
    assert evaluate(condition, {"environment": "dev", "deletion_protection": False})
    assert message == "deletion_protection must be true when environment is prod."
