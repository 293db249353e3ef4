Feature: Data at rest and in transit is encrypted
  In order to keep customer data and model artefacts confidential
  As the platform team
  Every store encrypts at rest with KMS and every connection uses TLS

  Scenario: S3 buckets are encrypted by default (SSE-KMS; SSE-S3 only where S3 log delivery requires it)
    Given I have aws_s3_bucket_server_side_encryption_configuration defined
    Then it must contain rule
    And it must contain apply_server_side_encryption_by_default
    And it must contain sse_algorithm
    And its value must match the "^(aws:kms|AES256)$" regex

  Scenario: S3 buckets are versioned
    Given I have aws_s3_bucket_versioning defined
    Then it must contain versioning_configuration
    And it must contain status
    And its value must be Enabled

  Scenario: RDS storage is encrypted
    Given I have aws_db_instance defined
    Then it must contain storage_encrypted
    And its value must be true

  Scenario: Redis is encrypted at rest
    Given I have aws_elasticache_replication_group defined
    Then it must contain at_rest_encryption_enabled
    And its value must be true

  Scenario: Redis is encrypted in transit
    Given I have aws_elasticache_replication_group defined
    Then it must contain transit_encryption_enabled
    And its value must be true

  Scenario: KMS keys rotate
    Given I have aws_kms_key defined
    Then it must contain enable_key_rotation
    And its value must be true

  Scenario: Secrets are encrypted with a customer-managed key
    Given I have aws_secretsmanager_secret defined
    Then it must contain kms_key_id
