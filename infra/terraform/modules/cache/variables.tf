variable "replication_group_id" {
  type        = string
  description = "ID of the Redis replication group (e.g. steelthread-prod)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,39}$", var.replication_group_id)) && !can(regex("--|-$", var.replication_group_id))
    error_message = "replication_group_id must start with a letter, hold at most 40 lowercase letters, digits and single hyphens, and not end with a hyphen."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC that hosts the cache."
}

variable "subnet_group_name" {
  type        = string
  description = "ElastiCache subnet group of isolated subnets (from the network module)."
}

variable "allowed_security_group_ids" {
  type        = list(string)
  description = "Security groups (the EKS nodes) allowed to connect on the Redis port."

  validation {
    condition     = length(var.allowed_security_group_ids) > 0
    error_message = "allowed_security_group_ids must name at least one security group; the cache admits nothing else."
  }
}

variable "node_type" {
  type        = string
  description = "ElastiCache node type, e.g. cache.t4g.medium."
  default     = "cache.t4g.medium"

  validation {
    condition     = can(regex("^cache\\.[a-z0-9]+\\.[a-z0-9]+$", var.node_type))
    error_message = "node_type must be an ElastiCache node type such as cache.t4g.medium."
  }
}

variable "num_cache_clusters" {
  type        = number
  description = "Nodes in the replication group (1 primary + replicas); 2 or more enables automatic failover."
  default     = 2

  validation {
    condition     = var.num_cache_clusters >= 1 && var.num_cache_clusters <= 6
    error_message = "num_cache_clusters must be between 1 and 6."
  }
}

variable "engine_version" {
  type        = string
  description = "Redis engine version."
  default     = "7.1"

  validation {
    condition     = can(regex("^[67]\\.[0-9]+$", var.engine_version))
    error_message = "engine_version must be a Redis 6.x or 7.x version such as 7.1 (transit encryption with AUTH needs 6 or later)."
  }
}

variable "snapshot_retention_days" {
  type        = number
  description = "Days of daily snapshots to keep (the online store can be re-materialized, so a few days suffice)."
  default     = 3

  validation {
    condition     = var.snapshot_retention_days >= 1 && var.snapshot_retention_days <= 35
    error_message = "snapshot_retention_days must be between 1 and 35."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource (the provider's default_tags apply as well)."
  default     = {}
}
