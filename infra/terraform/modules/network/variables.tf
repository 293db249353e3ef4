variable "name" {
  type        = string
  description = "Name prefix of every network resource (project and environment, e.g. steelthread-dev)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}[a-z0-9]$", var.name))
    error_message = "name must be 4-32 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR block of the VPC; subnets are carved from it."

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a valid IPv4 CIDR block of size /20 or larger, e.g. 10.20.0.0/16."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones to spread subnets over; at least two for a highly available cluster and database."

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 4
    error_message = "availability_zones must list between 2 and 4 zones."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "Use one NAT gateway for all zones (cheaper, for dev) instead of one per zone (for prod)."
  default     = false
}

variable "flow_log_retention_days" {
  type        = number
  description = "Days to keep VPC flow logs in CloudWatch."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be one of the CloudWatch retention values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "cluster_name" {
  type        = string
  description = "Name of the EKS cluster that will use the subnets (tags them for load balancers)."
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource (the provider's default_tags apply as well)."
  default     = {}
}
