# Private networking for the cluster, the database and the cache: workloads live in private subnets and reach the
# internet through NAT; only load balancers may use the public subnets.
locals {
  zone_count = length(var.availability_zones)
  # /20 VPC or larger: 4 bits more gives 16 subnets of equal size, enough for 4 tiers x 4 zones.
  private_subnets     = [for i in range(local.zone_count) : cidrsubnet(var.vpc_cidr, 4, i)]
  public_subnets      = [for i in range(local.zone_count) : cidrsubnet(var.vpc_cidr, 4, i + 4)]
  database_subnets    = [for i in range(local.zone_count) : cidrsubnet(var.vpc_cidr, 4, i + 8)]
  elasticache_subnets = [for i in range(local.zone_count) : cidrsubnet(var.vpc_cidr, 4, i + 12)]
}

module "vpc" {
  #checkov:skip=CKV_TF_1:Registry module pinned to a version range; the lock file and plan review pin what runs.
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 5.21"

  name = var.name
  cidr = var.vpc_cidr
  azs  = var.availability_zones

  private_subnets     = local.private_subnets
  public_subnets      = local.public_subnets
  database_subnets    = local.database_subnets
  elasticache_subnets = local.elasticache_subnets

  create_database_subnet_group           = true
  create_database_subnet_route_table     = true
  create_database_internet_gateway_route = false
  create_elasticache_subnet_group        = true

  enable_nat_gateway     = true
  single_nat_gateway     = var.single_nat_gateway
  one_nat_gateway_per_az = !var.single_nat_gateway

  enable_dns_hostnames    = true
  enable_dns_support      = true
  map_public_ip_on_launch = false

  # The default security group of the VPC allows nothing.
  manage_default_security_group  = true
  default_security_group_ingress = []
  default_security_group_egress  = []

  enable_flow_log                                 = true
  create_flow_log_cloudwatch_log_group            = true
  create_flow_log_cloudwatch_iam_role             = true
  flow_log_cloudwatch_log_group_retention_in_days = var.flow_log_retention_days
  flow_log_max_aggregation_interval               = 60

  public_subnet_tags = {
    "kubernetes.io/role/elb"                    = "1"
    "kubernetes.io/cluster/${var.cluster_name}" = "shared"
  }
  private_subnet_tags = {
    "kubernetes.io/role/internal-elb"           = "1"
    "kubernetes.io/cluster/${var.cluster_name}" = "shared"
  }

  tags = var.tags
}
