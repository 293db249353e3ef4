variable "name_prefix" {
  type        = string
  description = "Globally unique prefix of the bucket names (e.g. acme-steelthread-prod)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{2,40}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 4-42 characters of lowercase letters, digits and hyphens so bucket names stay valid."
  }
}

variable "noncurrent_version_expiration_days" {
  type        = number
  description = "Days to keep non-current object versions before they expire."
  default     = 90

  validation {
    condition     = var.noncurrent_version_expiration_days >= 7
    error_message = "noncurrent_version_expiration_days must be at least 7 so a bad overwrite can be undone."
  }
}

variable "access_log_retention_days" {
  type        = number
  description = "Days to keep S3 server access logs."
  default     = 365

  validation {
    condition     = var.access_log_retention_days >= 30
    error_message = "access_log_retention_days must be at least 30."
  }
}

variable "force_destroy" {
  type        = bool
  description = "Allow terraform destroy to delete non-empty buckets (dev only; keep false in staging and prod)."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource (the provider's default_tags apply as well)."
  default     = {}
}
