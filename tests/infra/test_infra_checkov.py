"""checkov over every Terraform stack (the one root with each stack's tfvars): no failed check, every skip declared inline with a reason.

External registry modules (VPC, EKS) are not downloaded offline, so checkov scans our own resources; these
tests also require that it actually did (a scan that silently checked nothing would pass otherwise).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

SKIP_COMMENT = re.compile(r"#\s*checkov:skip=(CKV2?_[A-Z0-9_]+)(?::(.*))?")
STACKS = ["cpu", "gpu"]


def declared_skips(terraform_dir: Path) -> dict[str, list[str]]:
    """check id -> reasons, from every `#checkov:skip=ID:reason` comment under infra/terraform."""
    skips: dict[str, list[str]] = {}
    for path in terraform_dir.rglob("*.tf"):
        for match in SKIP_COMMENT.finditer(path.read_text()):
            skips.setdefault(match.group(1), []).append((match.group(2) or "").strip())
    return skips


@pytest.mark.slow
@pytest.mark.parametrize("stack", STACKS)
def test_checkov_finds_no_failed_check(stack: str, checkov_reports: dict[str, dict[str, Any]]) -> None:
    report = checkov_reports[stack]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert failed == [], f"checkov failures in the {stack} stack:\n" + "\n".join(failed)
    assert report["summary"]["parsing_errors"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("stack", STACKS)
def test_checkov_scanned_our_own_resources(
    stack: str, checkov_reports: dict[str, dict[str, Any]], env_root: Path
) -> None:
    own_root = str(env_root.resolve())
    files = {c["file_abs_path"] for c in checkov_reports[stack]["results"]["passed_checks"]}
    assert any(f.startswith(own_root) for f in files), (
        f"the {stack} report holds no file of the environment root"
    )
    checked = {
        c["resource"].split("[")[0]
        for c in checkov_reports[stack]["results"]["passed_checks"]
        + checkov_reports[stack]["results"]["skipped_checks"]
    }
    expected = {
        "module.storage.aws_s3_bucket.this",
        "module.storage.aws_s3_bucket_public_access_block.this",
        "module.storage.aws_kms_key.storage",
        "module.database.aws_db_instance.this",
        "module.cache.aws_elasticache_replication_group.this",
        "module.cache.aws_secretsmanager_secret.auth_token",
        "module.iam.aws_iam_role.workload",
        "module.iam.aws_iam_policy_document.github_assume",
    }
    assert expected <= checked, f"checkov did not check: {sorted(expected - checked)}"
    assert checkov_reports[stack]["summary"]["passed"] >= 150


@pytest.mark.slow
@pytest.mark.parametrize("stack", STACKS)
def test_every_skipped_check_is_declared_with_a_reason(
    stack: str, checkov_reports: dict[str, dict[str, Any]], terraform_dir: Path
) -> None:
    skips = declared_skips(terraform_dir)
    for check in checkov_reports[stack]["results"]["skipped_checks"]:
        assert check["check_id"] in skips, f"{check['check_id']} skipped without an inline declaration"
    for check_id, reasons in skips.items():
        for reason in reasons:
            assert len(reason.split()) >= 5, f"#checkov:skip={check_id} needs a reason (a sentence)"


def test_skip_parser_reads_ids_and_reasons(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "x" "y" {\n  #checkov:skip=CKV_AWS_18:Logs bucket would log into itself forever\n'
        "  #checkov:skip=CKV2_AWS_62\n}\n"
    )
    assert declared_skips(tmp_path) == {
        "CKV_AWS_18": ["Logs bucket would log into itself forever"],
        "CKV2_AWS_62": [""],
    }
