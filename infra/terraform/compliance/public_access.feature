Feature: Nothing is publicly reachable
  In order to keep the data plane private
  As the platform team
  Buckets block public access, and the database and cache live in private subnets

  Scenario Outline: S3 public access blocks are all on
    Given I have aws_s3_bucket_public_access_block defined
    Then it must contain <setting>
    And its value must be true

    Examples:
      | setting                 |
      | block_public_acls       |
      | block_public_policy     |
      | ignore_public_acls      |
      | restrict_public_buckets |

  Scenario: RDS is not publicly accessible
    Given I have aws_db_instance defined
    Then it must contain publicly_accessible
    And its value must be false

  Scenario: Security groups admit no traffic from the internet
    Given I have aws_vpc_security_group_ingress_rule defined
    Then it must not contain cidr_ipv4

  Scenario: No IAM user access keys exist
    Given I have aws_iam_access_key defined
    Then it must fail

  Scenario: EKS nodes require IMDSv2
    Given I have aws_launch_template defined
    Then it must contain metadata_options
    And it must contain http_tokens
    And its value must be required
