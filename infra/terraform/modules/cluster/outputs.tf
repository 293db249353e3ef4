output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "HTTPS endpoint of the Kubernetes API server."
  value       = module.eks.cluster_endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA certificate of the API server, for provider and kubeconfig setup."
  value       = module.eks.cluster_certificate_authority_data
}

output "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider, the trust anchor of IRSA roles."
  value       = module.eks.oidc_provider_arn
}

output "oidc_provider" {
  description = "Issuer of the cluster's OIDC provider without https://, used in IRSA trust conditions."
  value       = module.eks.oidc_provider
}

output "node_security_group_id" {
  description = "Security group shared by the nodes; the database and cache admit traffic from it only."
  value       = module.eks.node_security_group_id
}

output "node_group_names" {
  description = "Managed node groups created (cpu, and gpu in the GPU stack)."
  value       = keys(module.eks.eks_managed_node_groups)
}

output "has_gpu_node_group" {
  description = "Whether this cluster has a GPU node group."
  value       = var.gpu_node_group != null
}

output "cluster_arn" {
  description = "ARN of the EKS cluster."
  value       = module.eks.cluster_arn
}
