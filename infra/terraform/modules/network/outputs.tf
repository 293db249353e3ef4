output "vpc_id" {
  description = "ID of the VPC."
  value       = module.vpc.vpc_id
}

output "vpc_cidr_block" {
  description = "CIDR block of the VPC, for security group rules."
  value       = module.vpc.vpc_cidr_block
}

output "private_subnet_ids" {
  description = "Private subnets for the EKS nodes and control plane ENIs."
  value       = module.vpc.private_subnets
}

output "public_subnet_ids" {
  description = "Public subnets, for internet-facing load balancers only."
  value       = module.vpc.public_subnets
}

output "database_subnet_group_name" {
  description = "DB subnet group (isolated subnets) for RDS."
  value       = module.vpc.database_subnet_group_name
}

output "elasticache_subnet_group_name" {
  description = "ElastiCache subnet group (isolated subnets) for Redis."
  value       = module.vpc.elasticache_subnet_group_name
}
