variable "identifier" {
  type        = string
  description = "RDS instance identifier (e.g. steelthread-prod)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.identifier)) && !can(regex("--|-$", var.identifier))
    error_message = "identifier must start with a letter, hold lowercase letters, digits and single hyphens, and not end with a hyphen."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC that hosts the database."
}

variable "db_subnet_group_name" {
  type        = string
  description = "DB subnet group of isolated subnets (from the network module)."
}

variable "allowed_security_group_ids" {
  type        = list(string)
  description = "Security groups (the EKS nodes) allowed to connect on the PostgreSQL port."

  validation {
    condition     = length(var.allowed_security_group_ids) > 0
    error_message = "allowed_security_group_ids must name at least one security group; the database admits nothing else."
  }
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL major version (e.g. 16)."
  default     = "16"

  validation {
    condition     = contains(["15", "16", "17"], var.engine_version)
    error_message = "engine_version must be a supported PostgreSQL major version: 15, 16 or 17."
  }
}

variable "instance_class" {
  type        = string
  description = "RDS instance class, e.g. db.t4g.medium."
  default     = "db.t4g.medium"

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.instance_class))
    error_message = "instance_class must be an RDS instance class such as db.t4g.medium."
  }
}

variable "allocated_storage_gib" {
  type        = number
  description = "Initial storage in GiB; storage autoscaling grows it up to max_allocated_storage_gib."
  default     = 50

  validation {
    condition     = var.allocated_storage_gib >= 20 && var.allocated_storage_gib <= 65536
    error_message = "allocated_storage_gib must be between 20 and 65536."
  }
}

variable "max_allocated_storage_gib" {
  type        = number
  description = "Upper bound of storage autoscaling in GiB."
  default     = 200

  validation {
    condition     = var.max_allocated_storage_gib >= 20 && var.max_allocated_storage_gib <= 65536
    error_message = "max_allocated_storage_gib must be between 20 and 65536."
  }
}

variable "multi_az" {
  type        = bool
  description = "Run a synchronous standby in another zone (on in prod)."
  default     = true
}

variable "backup_retention_days" {
  type        = number
  description = "Days of automated backups and point-in-time recovery."
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 1 and 35: automated backups cannot be switched off."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the instance; the environment root forces it on in prod."
  default     = true
}

variable "database_name" {
  type        = string
  description = "Initial database (MLflow backend store; the Feast registry uses a schema in it)."
  default     = "steelthread"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.database_name))
    error_message = "database_name must start with a letter and hold lowercase letters, digits and underscores."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource (the provider's default_tags apply as well)."
  default     = {}
}
