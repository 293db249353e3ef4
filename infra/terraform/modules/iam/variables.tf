variable "name_prefix" {
  type        = string
  description = "Prefix of role names (e.g. steelthread-prod)."

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,40}$", var.name_prefix))
    error_message = "name_prefix must start with a letter and hold at most 41 letters, digits and hyphens."
  }
}

variable "oidc_provider_arn" {
  type        = string
  description = "ARN of the EKS cluster's OIDC provider (trust anchor of the IRSA roles)."
}

variable "oidc_provider" {
  type        = string
  description = "Issuer of the EKS cluster's OIDC provider without https://."
}

variable "namespace" {
  type        = string
  description = "Kubernetes namespace of the steelthread workloads."
  default     = "steelthread"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a valid Kubernetes namespace name (lowercase letters, digits, hyphens)."
  }
}

variable "bucket_arns" {
  type        = map(string)
  description = "Bucket ARN per purpose from the storage module: mlflow-artifacts, feast-offline, model-packages."

  validation {
    condition     = alltrue([for k in ["mlflow-artifacts", "feast-offline", "model-packages"] : contains(keys(var.bucket_arns), k)])
    error_message = "bucket_arns must hold the keys mlflow-artifacts, feast-offline and model-packages."
  }
}

variable "storage_kms_key_arn" {
  type        = string
  description = "KMS key encrypting the buckets."
}

variable "database_secret_arn" {
  type        = string
  description = "Secrets Manager secret of the database credentials."
}

variable "cache_secret_arn" {
  type        = string
  description = "Secrets Manager secret of the Redis AUTH token."
}

variable "secret_kms_key_arns" {
  type        = list(string)
  description = "KMS keys encrypting the database and cache secrets (workloads need kms:Decrypt on them)."
}

variable "cluster_arn" {
  type        = string
  description = "ARN of the EKS cluster the GitHub workflows deploy to."
}

variable "create_github_oidc_provider" {
  type        = bool
  description = "Create the account's GitHub Actions OIDC provider; set false when another stack already owns it (one per account)."
  default     = true
}

variable "github_repository" {
  type        = string
  description = "GitHub repository (owner/name) whose workflows may assume the deploy role."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name, e.g. acme/steelthread, without wildcards."
  }
}

variable "github_branches" {
  type        = list(string)
  description = "Branches whose workflows may assume the deploy role."
  default     = ["main"]

  validation {
    condition     = length(var.github_branches) > 0 && alltrue([for b in var.github_branches : can(regex("^[A-Za-z0-9._/-]+$", b))])
    error_message = "github_branches must name at least one branch exactly; wildcards such as * are refused because any branch could then deploy."
  }
}

variable "github_environments" {
  type        = list(string)
  description = "GitHub deployment environments whose jobs may assume the deploy role."
  default     = []

  validation {
    condition     = alltrue([for e in var.github_environments : can(regex("^[A-Za-z0-9._-]+$", e))])
    error_message = "github_environments must be exact environment names without wildcards."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource (the provider's default_tags apply as well)."
  default     = {}
}
