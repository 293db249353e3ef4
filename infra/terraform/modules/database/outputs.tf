output "endpoint" {
  description = "host:port of the PostgreSQL instance (TLS required)."
  value       = aws_db_instance.this.endpoint
}

output "address" {
  description = "Hostname of the PostgreSQL instance."
  value       = aws_db_instance.this.address
}

output "database_name" {
  description = "Name of the initial database."
  value       = aws_db_instance.this.db_name
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret holding the RDS-managed master credentials."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "security_group_id" {
  description = "Security group of the database."
  value       = aws_security_group.database.id
}

output "kms_key_arn" {
  description = "KMS key encrypting the database storage and its master secret."
  value       = aws_kms_key.database.arn
}
