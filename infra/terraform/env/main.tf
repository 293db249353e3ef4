# The one environment root. Both stacks come from it: the CPU stack (gpu_node_group_enabled = false, the
# default) has CPU nodes only, since onnxruntime scores the tree ensembles on the CPU; the GPU stack adds a
# tainted GPU node group and the NVIDIA device plugin, for batch scoring of large sets with a tensorised model
# and for deep models. Online serving stays on the CPU nodes in both. `<stack>/<environment>.tfvars` sets the
# toggle; `backend/<stack>/<environment>.hcl` keeps each stack's state apart.
locals {
  stack = var.gpu_node_group_enabled ? "gpu" : "cpu"

  # The GPU stack's names carry "-gpu" so both stacks can live in one account and region.
  name_infix = var.gpu_node_group_enabled ? "-gpu" : ""
  name       = "${var.project}${local.name_infix}-${var.environment}"

  tags = {
    Project     = var.project
    Environment = var.environment
    Owner       = var.owner
    ManagedBy   = "terraform"
    Stack       = local.stack
  }
}

module "network" {
  source = "../modules/network"

  name               = local.name
  vpc_cidr           = var.vpc_cidr
  availability_zones = var.availability_zones
  single_nat_gateway = var.environment == "dev"
  cluster_name       = local.name
}

module "cluster" {
  source = "../modules/cluster"

  cluster_name                 = local.name
  kubernetes_version           = var.kubernetes_version
  vpc_id                       = module.network.vpc_id
  subnet_ids                   = module.network.private_subnet_ids
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs

  cpu_node_group = {
    instance_types = var.cpu_instance_types
    min_size       = var.cpu_node_min
    max_size       = var.cpu_node_max
    desired_size   = var.cpu_node_desired
  }

  # null: no GPU node group at all (the CPU stack).
  gpu_node_group = var.gpu_node_group_enabled ? {
    instance_types = var.gpu_instance_types
    ami_type       = var.gpu_ami_type
    min_size       = var.gpu_node_min
    max_size       = var.gpu_node_max
    desired_size   = var.gpu_node_desired
  } : null
}

module "nvidia_device_plugin" {
  source = "../modules/nvidia-device-plugin"
  count  = var.gpu_node_group_enabled ? 1 : 0

  chart_version = var.nvidia_device_plugin_version

  depends_on = [module.cluster]
}

module "storage" {
  source = "../modules/storage"

  name_prefix   = "${var.bucket_prefix}${local.name_infix}-${var.environment}"
  force_destroy = var.environment == "dev"
}

module "database" {
  source = "../modules/database"

  identifier                 = local.name
  vpc_id                     = module.network.vpc_id
  db_subnet_group_name       = module.network.database_subnet_group_name
  allowed_security_group_ids = [module.cluster.node_security_group_id]
  instance_class             = var.db_instance_class
  multi_az                   = var.db_multi_az
  backup_retention_days      = var.db_backup_retention_days
  deletion_protection        = var.environment == "prod" ? true : var.deletion_protection
}

module "cache" {
  source = "../modules/cache"

  replication_group_id       = local.name
  vpc_id                     = module.network.vpc_id
  subnet_group_name          = module.network.elasticache_subnet_group_name
  allowed_security_group_ids = [module.cluster.node_security_group_id]
  node_type                  = var.redis_node_type
  num_cache_clusters         = var.redis_num_nodes
}

module "iam" {
  source = "../modules/iam"

  name_prefix                 = local.name
  oidc_provider_arn           = module.cluster.oidc_provider_arn
  oidc_provider               = module.cluster.oidc_provider
  bucket_arns                 = module.storage.bucket_arns
  storage_kms_key_arn         = module.storage.kms_key_arn
  database_secret_arn         = module.database.master_user_secret_arn
  cache_secret_arn            = module.cache.auth_token_secret_arn
  secret_kms_key_arns         = [module.database.kms_key_arn, module.cache.kms_key_arn]
  cluster_arn                 = module.cluster.cluster_arn
  create_github_oidc_provider = var.create_github_oidc_provider
  github_repository           = var.github_repository
  github_branches             = var.github_branches
  github_environments         = [var.environment]
}

# The GPU stack's state predates the toggle, when the device plugin had no count.
moved {
  from = module.nvidia_device_plugin
  to   = module.nvidia_device_plugin[0]
}
