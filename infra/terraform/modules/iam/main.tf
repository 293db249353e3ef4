# Roles without long-lived keys: each workload's service account assumes its own role through the cluster's OIDC
# provider (IRSA), and GitHub Actions assumes the deploy role through GitHub's OIDC provider, limited to named
# branches and environments of one repository. Each role gets only the buckets and secrets its job needs.
data "aws_partition" "current" {}

locals {
  # read: GetObject + ListBucket; write: PutObject/DeleteObject as well.
  workloads = {
    serving = {
      read    = ["model-packages"]
      write   = []
      secrets = [var.database_secret_arn, var.cache_secret_arn]
    }
    training = {
      read    = ["feast-offline", "model-packages"]
      write   = ["mlflow-artifacts", "model-packages"]
      secrets = [var.database_secret_arn]
    }
    monitoring = {
      read    = ["model-packages", "feast-offline"]
      write   = ["mlflow-artifacts"]
      secrets = [var.database_secret_arn]
    }
    batch = {
      read    = ["feast-offline", "model-packages"]
      write   = ["feast-offline"]
      secrets = [var.database_secret_arn, var.cache_secret_arn]
    }
  }

  github_subjects = concat(
    [for b in var.github_branches : "repo:${var.github_repository}:ref:refs/heads/${b}"],
    [for e in var.github_environments : "repo:${var.github_repository}:environment:${e}"],
  )

  github_oidc_provider_arn = var.create_github_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:oidc-provider/token.actions.githubusercontent.com"
}

data "aws_caller_identity" "current" {}

# --- IRSA roles -------------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "irsa_assume" {
  for_each = local.workloads

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${var.oidc_provider}:sub"
      values   = ["system:serviceaccount:${var.namespace}:steelthread-${each.key}"]
    }

    condition {
      test     = "StringEquals"
      variable = "${var.oidc_provider}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "workload" {
  for_each = local.workloads

  name                 = "${var.name_prefix}-${each.key}"
  description          = "IRSA role of the steelthread-${each.key} service account"
  assume_role_policy   = data.aws_iam_policy_document.irsa_assume[each.key].json
  max_session_duration = 3600
  tags                 = var.tags
}

data "aws_iam_policy_document" "workload" {
  for_each = local.workloads

  statement {
    sid       = "ListBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [for b in distinct(concat(each.value.read, each.value.write)) : var.bucket_arns[b]]
  }

  statement {
    sid       = "ReadObjects"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [for b in distinct(concat(each.value.read, each.value.write)) : "${var.bucket_arns[b]}/*"]
  }

  dynamic "statement" {
    for_each = length(each.value.write) > 0 ? [1] : []

    content {
      sid       = "WriteObjects"
      actions   = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
      resources = [for b in each.value.write : "${var.bucket_arns[b]}/*"]
    }
  }

  statement {
    sid       = "UseStorageKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.storage_kms_key_arn]
  }

  statement {
    sid       = "ReadOwnSecrets"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = each.value.secrets
  }

  statement {
    sid       = "DecryptOwnSecrets"
    actions   = ["kms:Decrypt"]
    resources = var.secret_kms_key_arns
  }
}

resource "aws_iam_role_policy" "workload" {
  for_each = local.workloads

  name   = "${var.name_prefix}-${each.key}"
  role   = aws_iam_role.workload[each.key].id
  policy = data.aws_iam_policy_document.workload[each.key].json
}

# --- GitHub Actions ---------------------------------------------------------------------------------------------
resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_github_oidc_provider ? 1 : 0

  url             = "https://token.actions.githubusercontent.com"
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]
  tags            = var.tags
}

data "aws_iam_policy_document" "github_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = local.github_subjects
    }
  }
}

resource "aws_iam_role" "github_actions" {
  name                 = "${var.name_prefix}-github-actions"
  description          = "Assumed by the ${var.github_repository} workflows through GitHub OIDC; no access keys exist"
  assume_role_policy   = data.aws_iam_policy_document.github_assume.json
  max_session_duration = 3600
  tags                 = var.tags
}

data "aws_iam_policy_document" "github_actions" {
  statement {
    sid       = "DescribeCluster"
    actions   = ["eks:DescribeCluster"]
    resources = [var.cluster_arn]
  }

  statement {
    sid       = "ListBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.bucket_arns["mlflow-artifacts"], var.bucket_arns["model-packages"], var.bucket_arns["feast-offline"]]
  }

  statement {
    sid       = "PublishModelsAndArtifacts"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"]
    resources = ["${var.bucket_arns["mlflow-artifacts"]}/*", "${var.bucket_arns["model-packages"]}/*"]
  }

  statement {
    sid       = "ReadOfflineStore"
    actions   = ["s3:GetObject"]
    resources = ["${var.bucket_arns["feast-offline"]}/*"]
  }

  statement {
    sid       = "UseStorageKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.storage_kms_key_arn]
  }
}

resource "aws_iam_role_policy" "github_actions" {
  name   = "${var.name_prefix}-github-actions"
  role   = aws_iam_role.github_actions.id
  policy = data.aws_iam_policy_document.github_actions.json
}
