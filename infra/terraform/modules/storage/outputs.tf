output "bucket_names" {
  description = "Bucket name per purpose: mlflow-artifacts, feast-offline, model-packages."
  value       = { for k, b in aws_s3_bucket.this : k => b.bucket }
}

output "bucket_arns" {
  description = "Bucket ARN per purpose, for IAM policies."
  value       = { for k, b in aws_s3_bucket.this : k => b.arn }
}

output "access_log_bucket_name" {
  description = "Bucket receiving S3 server access logs of the data buckets."
  value       = aws_s3_bucket.logs.bucket
}

output "kms_key_arn" {
  description = "KMS key that encrypts every bucket; readers need kms:Decrypt on it."
  value       = aws_kms_key.storage.arn
}
