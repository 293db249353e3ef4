output "workload_role_arns" {
  description = "IRSA role ARN per workload (serving, training, monitoring, batch); annotate the matching service account with eks.amazonaws.com/role-arn."
  value       = { for k, r in aws_iam_role.workload : k => r.arn }
}

output "github_actions_role_arn" {
  description = "Role the GitHub workflows assume with aws-actions/configure-aws-credentials (role-to-assume)."
  value       = aws_iam_role.github_actions.arn
}

output "github_oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider trusted by the deploy role."
  value       = local.github_oidc_provider_arn
}
