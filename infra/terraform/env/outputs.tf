output "cluster_name" {
  description = "EKS cluster name: aws eks update-kubeconfig --name <this>."
  value       = module.cluster.cluster_name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = module.cluster.cluster_endpoint
}

output "node_group_names" {
  description = "Managed node groups of the cluster (cpu, plus gpu in the GPU stack)."
  value       = module.cluster.node_group_names
}

output "bucket_names" {
  description = "Buckets per purpose; STEELTHREAD_OFFLINE_STORE_URI is s3://<feast-offline>/ and model packages sync from s3://<model-packages>/."
  value       = module.storage.bucket_names
}

output "database_endpoint" {
  description = "PostgreSQL host:port for STEELTHREAD_POSTGRES_DSN (sslmode=require)."
  value       = module.database.endpoint
}

output "database_secret_arn" {
  description = "Secrets Manager secret with the database master credentials."
  value       = module.database.master_user_secret_arn
}

output "redis_endpoint" {
  description = "Redis primary endpoint for STEELTHREAD_REDIS_URL (rediss://, TLS)."
  value       = module.cache.primary_endpoint_address
}

output "redis_auth_token_secret_arn" {
  description = "Secrets Manager secret with the Redis AUTH token."
  value       = module.cache.auth_token_secret_arn
}

output "workload_role_arns" {
  description = "IRSA role ARN per workload, for the eks.amazonaws.com/role-arn annotation of its service account."
  value       = module.iam.workload_role_arns
}

output "github_actions_role_arn" {
  description = "Role for aws-actions/configure-aws-credentials in the GitHub workflows."
  value       = module.iam.github_actions_role_arn
}

output "nvidia_device_plugin_chart_version" {
  description = "Chart version of the NVIDIA device plugin installed on the GPU nodes; null in the CPU stack."
  value       = one(module.nvidia_device_plugin[*].chart_version)
}
