# Redis for the Feast online store: encrypted at rest with a customer-managed key and in transit with TLS, AUTH
# token generated here and kept in Secrets Manager, where the cluster's workloads read it.
resource "aws_kms_key" "cache" {
  #checkov:skip=CKV2_AWS_64:The default key policy (account root administers) is intended; ElastiCache and Secrets Manager use grants.
  description             = "${var.replication_group_id} cache storage and auth token"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags                    = var.tags
}

resource "random_password" "auth_token" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "auth_token" {
  #checkov:skip=CKV2_AWS_57:Rotating an ElastiCache AUTH token needs a coordinated modify-replication-group call; rotate by tainting random_password.auth_token.
  name                    = "${var.replication_group_id}/redis-auth-token"
  description             = "AUTH token of the ${var.replication_group_id} Redis replication group"
  kms_key_id              = aws_kms_key.cache.arn
  recovery_window_in_days = 30
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "auth_token" {
  secret_id     = aws_secretsmanager_secret.auth_token.id
  secret_string = random_password.auth_token.result
}

resource "aws_security_group" "cache" {
  name        = "${var.replication_group_id}-redis"
  description = "Redis reachable from the EKS nodes only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_nodes" {
  for_each = toset(var.allowed_security_group_ids)

  security_group_id            = aws_security_group.cache.id
  description                  = "Redis (TLS) from the cluster nodes"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = each.value
}

resource "aws_elasticache_replication_group" "this" {
  #checkov:skip=CKV2_AWS_50:Automatic failover and Multi-AZ are on whenever there is a replica (num_cache_clusters > 1: staging, prod); a single-node dev cache cannot fail over.
  replication_group_id = var.replication_group_id
  description          = "Feast online store"
  engine               = "redis"
  engine_version       = var.engine_version
  node_type            = var.node_type
  num_cache_clusters   = var.num_cache_clusters
  port                 = 6379

  subnet_group_name  = var.subnet_group_name
  security_group_ids = [aws_security_group.cache.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.cache.arn
  transit_encryption_enabled = true
  auth_token                 = aws_secretsmanager_secret_version.auth_token.secret_string

  automatic_failover_enabled = var.num_cache_clusters > 1
  multi_az_enabled           = var.num_cache_clusters > 1
  snapshot_retention_limit   = var.snapshot_retention_days
  snapshot_window            = "02:00-03:00"
  maintenance_window         = "sun:05:30-sun:06:30"
  auto_minor_version_upgrade = true
  apply_immediately          = false

  tags = var.tags
}
