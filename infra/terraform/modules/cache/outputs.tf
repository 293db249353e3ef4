output "primary_endpoint_address" {
  description = "Primary endpoint of the replication group (connect with rediss:// and the AUTH token)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "reader_endpoint_address" {
  description = "Reader endpoint spreading reads over replicas."
  value       = aws_elasticache_replication_group.this.reader_endpoint_address
}

output "auth_token_secret_arn" {
  description = "Secrets Manager secret holding the Redis AUTH token."
  value       = aws_secretsmanager_secret.auth_token.arn
}

output "security_group_id" {
  description = "Security group of the cache."
  value       = aws_security_group.cache.id
}

output "kms_key_arn" {
  description = "KMS key encrypting the cache and its auth token secret."
  value       = aws_kms_key.cache.arn
}
