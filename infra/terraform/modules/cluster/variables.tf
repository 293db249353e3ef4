variable "cluster_name" {
  type        = string
  description = "Name of the EKS cluster."

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,99}$", var.cluster_name))
    error_message = "cluster_name must start with a letter and hold at most 100 letters, digits and hyphens."
  }
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version of the control plane, e.g. 1.33."
  default     = "1.33"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.33 (major.minor)."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC that hosts the cluster."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the nodes and the control plane network interfaces."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must list at least two private subnets in different zones."
  }
}

variable "endpoint_public_access_cidrs" {
  type        = list(string)
  description = "CIDR blocks allowed to reach the public API endpoint; empty keeps the endpoint private only."
  default     = []

  validation {
    condition     = alltrue([for c in var.endpoint_public_access_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "endpoint_public_access_cidrs must be valid CIDR blocks and must not include 0.0.0.0/0."
  }
}

variable "cpu_node_group" {
  type = object({
    instance_types = list(string)
    min_size       = number
    max_size       = number
    desired_size   = number
    disk_size_gib  = optional(number, 50)
  })
  description = "CPU node group that runs serving, monitoring and system pods."

  validation {
    condition     = length(var.cpu_node_group.instance_types) > 0 && alltrue([for t in var.cpu_node_group.instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t)) && !can(regex("^(g|p)[0-9]", t))])
    error_message = "cpu_node_group.instance_types must be EC2 instance types (e.g. m7i.large) and must not be GPU types (g*/p* families)."
  }

  validation {
    condition     = var.cpu_node_group.min_size >= 1 && var.cpu_node_group.min_size <= var.cpu_node_group.desired_size && var.cpu_node_group.desired_size <= var.cpu_node_group.max_size
    error_message = "cpu_node_group sizes must satisfy 1 <= min_size <= desired_size <= max_size."
  }
}

variable "gpu_node_group" {
  type = object({
    instance_types = list(string)
    min_size       = number
    max_size       = number
    desired_size   = number
    disk_size_gib  = optional(number, 100)
    ami_type       = optional(string, "AL2023_x86_64_NVIDIA")
  })
  description = "GPU node group (NVIDIA AMI, tainted nvidia.com/gpu=true:NoSchedule); null means no GPU nodes, as in the CPU stack."
  default     = null

  validation {
    condition     = var.gpu_node_group == null || (length(try(var.gpu_node_group.instance_types, [])) > 0 && alltrue([for t in try(var.gpu_node_group.instance_types, []) : can(regex("^(g|p)[0-9]", t))]))
    error_message = "gpu_node_group.instance_types must be GPU instance types only (g or p families, e.g. g6.xlarge, p5.48xlarge)."
  }

  validation {
    condition     = var.gpu_node_group == null || contains(["AL2023_x86_64_NVIDIA", "AL2_x86_64_GPU", "BOTTLEROCKET_x86_64_NVIDIA"], try(var.gpu_node_group.ami_type, ""))
    error_message = "gpu_node_group.ami_type must be an NVIDIA-accelerated AMI type: AL2023_x86_64_NVIDIA, AL2_x86_64_GPU or BOTTLEROCKET_x86_64_NVIDIA."
  }

  validation {
    condition     = var.gpu_node_group == null || (try(var.gpu_node_group.min_size, 0) >= 0 && try(var.gpu_node_group.min_size, 0) <= try(var.gpu_node_group.desired_size, 0) && try(var.gpu_node_group.desired_size, 0) <= try(var.gpu_node_group.max_size, 0) && try(var.gpu_node_group.max_size, 0) >= 1)
    error_message = "gpu_node_group sizes must satisfy 0 <= min_size <= desired_size <= max_size and max_size >= 1."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Days to keep control plane logs in CloudWatch."
  default     = 365

  validation {
    condition     = var.log_retention_days >= 90
    error_message = "log_retention_days must be at least 90 so audit logs outlive an incident review."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource (the provider's default_tags apply as well)."
  default     = {}
}
