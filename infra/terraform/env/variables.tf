variable "project" {
  type        = string
  description = "Project name used in resource names and the Project tag."
  default     = "steelthread"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.project))
    error_message = "project must be 2-21 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "environment" {
  type        = string
  description = "Deployment environment; one state per stack and environment (see backend/<stack>/<environment>.hcl)."

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging or prod."
  }
}

variable "region" {
  type        = string
  description = "AWS region, e.g. eu-west-1."

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1 or us-east-2."
  }
}

variable "owner" {
  type        = string
  description = "Team accountable for the resources (Owner tag)."

  validation {
    condition     = length(trimspace(var.owner)) > 0
    error_message = "owner must name the accountable team; it becomes the Owner tag."
  }
}

variable "bucket_prefix" {
  type        = string
  description = "Globally unique prefix of bucket names, e.g. acme-steelthread (the environment is appended)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{2,22}[a-z0-9]$", var.bucket_prefix))
    error_message = "bucket_prefix must be 4-24 lowercase letters, digits or hyphens (S3 bucket naming rules)."
  }
}

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR block of the VPC."
  default     = "10.20.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a valid IPv4 CIDR block of size /20 or larger, e.g. 10.20.0.0/16."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones (names in the region) for subnets, nodes, database and cache; pinned so the network never grows silently."

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 4 && alltrue([for z in var.availability_zones : startswith(z, var.region)])
    error_message = "availability_zones must list 2 to 4 zones of the chosen region, e.g. [\"eu-west-1a\", \"eu-west-1b\"]."
  }
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version of the EKS control plane, e.g. 1.33."
  default     = "1.33"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.33 (major.minor)."
  }
}

variable "endpoint_public_access_cidrs" {
  type        = list(string)
  description = "CIDR blocks allowed to reach the EKS API endpoint publicly; empty keeps it private."
  default     = []

  validation {
    condition     = alltrue([for c in var.endpoint_public_access_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "endpoint_public_access_cidrs must be valid CIDR blocks and must not include 0.0.0.0/0."
  }
}

variable "cpu_instance_types" {
  type        = list(string)
  description = "Instance types of the CPU node group (serving, monitoring, batch drivers)."
  default     = ["m7i.large"]

  validation {
    condition     = length(var.cpu_instance_types) > 0 && alltrue([for t in var.cpu_instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t)) && !can(regex("^(g|p)[0-9]", t))])
    error_message = "cpu_instance_types must be EC2 instance types such as m7i.large, and not GPU types (g*/p* families belong in gpu_instance_types)."
  }
}

variable "cpu_node_min" {
  type        = number
  description = "Minimum number of CPU nodes."
  default     = 2

  validation {
    condition     = var.cpu_node_min >= 1 && var.cpu_node_min <= 100
    error_message = "cpu_node_min must be between 1 and 100."
  }
}

variable "cpu_node_desired" {
  type        = number
  description = "Desired number of CPU nodes at creation."
  default     = 2

  validation {
    condition     = var.cpu_node_desired >= var.cpu_node_min && var.cpu_node_desired <= var.cpu_node_max
    error_message = "cpu_node_desired must lie between cpu_node_min and cpu_node_max."
  }
}

variable "cpu_node_max" {
  type        = number
  description = "Maximum number of CPU nodes (the HPA scales serving within this)."
  default     = 6

  validation {
    condition     = var.cpu_node_max >= var.cpu_node_min && var.cpu_node_max <= 100
    error_message = "cpu_node_max must be at least cpu_node_min and at most 100."
  }
}

variable "db_instance_class" {
  type        = string
  description = "RDS PostgreSQL instance class."
  default     = "db.t4g.medium"

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.db_instance_class))
    error_message = "db_instance_class must be an RDS instance class such as db.t4g.medium."
  }
}

variable "db_multi_az" {
  type        = bool
  description = "Run the database with a standby in another zone."
  default     = false
}

variable "db_backup_retention_days" {
  type        = number
  description = "Days of automated database backups."
  default     = 7

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 1 and 35: automated backups cannot be switched off."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the database from deletion; must be true in prod."
  default     = true

  validation {
    condition     = var.environment != "prod" || var.deletion_protection
    error_message = "deletion_protection must be true when environment is prod."
  }
}

variable "redis_node_type" {
  type        = string
  description = "ElastiCache node type of the Feast online store."
  default     = "cache.t4g.medium"

  validation {
    condition     = can(regex("^cache\\.[a-z0-9]+\\.[a-z0-9]+$", var.redis_node_type))
    error_message = "redis_node_type must be an ElastiCache node type such as cache.t4g.medium."
  }
}

variable "redis_num_nodes" {
  type        = number
  description = "Redis nodes (primary + replicas); 2 or more gives automatic failover."
  default     = 2

  validation {
    condition     = var.redis_num_nodes >= 1 && var.redis_num_nodes <= 6
    error_message = "redis_num_nodes must be between 1 and 6."
  }
}

variable "github_repository" {
  type        = string
  description = "GitHub repository (owner/name) whose workflows may deploy through OIDC."

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

variable "create_github_oidc_provider" {
  type        = bool
  description = "Create the account's GitHub OIDC provider (only one may exist per account: false in every stack but one)."
  default     = true
}

variable "gpu_node_group_enabled" {
  type        = bool
  description = "GPU stack: add the tainted GPU node group and the NVIDIA device plugin; the gpu_* variables below apply only when true."
  default     = false
}

variable "gpu_instance_types" {
  type        = list(string)
  description = "Instance types of the GPU node group; GPU families (g*, p*) only."
  default     = ["g6.xlarge"]

  validation {
    condition     = length(var.gpu_instance_types) > 0 && alltrue([for t in var.gpu_instance_types : can(regex("^(g|p)[0-9]", t))])
    error_message = "gpu_instance_types must be GPU instance types only (g or p families such as g6.xlarge or p5.48xlarge); CPU types belong in cpu_instance_types."
  }
}

variable "gpu_ami_type" {
  type        = string
  description = "NVIDIA-accelerated EKS AMI type of the GPU node group."
  default     = "AL2023_x86_64_NVIDIA"

  validation {
    condition     = contains(["AL2023_x86_64_NVIDIA", "AL2_x86_64_GPU", "BOTTLEROCKET_x86_64_NVIDIA"], var.gpu_ami_type)
    error_message = "gpu_ami_type must be an NVIDIA-accelerated AMI type: AL2023_x86_64_NVIDIA, AL2_x86_64_GPU or BOTTLEROCKET_x86_64_NVIDIA."
  }
}

variable "gpu_node_min" {
  type        = number
  description = "Minimum number of GPU nodes (0 lets the pool scale to zero between batch runs)."
  default     = 0

  validation {
    condition     = var.gpu_node_min >= 0 && var.gpu_node_min <= 50
    error_message = "gpu_node_min must be between 0 and 50."
  }
}

variable "gpu_node_desired" {
  type        = number
  description = "Desired number of GPU nodes at creation."
  default     = 1

  validation {
    condition     = var.gpu_node_desired >= var.gpu_node_min && var.gpu_node_desired <= var.gpu_node_max
    error_message = "gpu_node_desired must lie between gpu_node_min and gpu_node_max."
  }
}

variable "gpu_node_max" {
  type        = number
  description = "Maximum number of GPU nodes."
  default     = 2

  validation {
    condition     = var.gpu_node_max >= 1 && var.gpu_node_max >= var.gpu_node_min && var.gpu_node_max <= 50
    error_message = "gpu_node_max must be between 1 and 50 and at least gpu_node_min."
  }
}

variable "nvidia_device_plugin_version" {
  type        = string
  description = "Chart version of the NVIDIA device plugin."
  default     = "0.17.4"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.nvidia_device_plugin_version))
    error_message = "nvidia_device_plugin_version must be a semantic version such as 0.17.4."
  }
}
