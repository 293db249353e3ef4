Feature: The CPU stack has no GPU nodes
  In order not to pay for idle GPUs
  As the platform team
  The CPU stack's node groups (gpu_node_group_enabled = false) use standard AMIs and non-GPU instance types only

  Scenario: No node group uses an NVIDIA-accelerated AMI
    Given I have aws_eks_node_group defined
    When its ami_type is AL2023_x86_64_NVIDIA
    Then it must fail

  Scenario: No node group uses the legacy GPU AMI
    Given I have aws_eks_node_group defined
    When its ami_type is AL2_x86_64_GPU
    Then it must fail

  Scenario: CPU node groups use non-GPU instance types
    Given I have aws_eks_node_group defined
    Then it must contain instance_types
    And its value must not match the "^(g|p)[0-9]" regex

  Scenario: No NVIDIA device plugin is installed
    Given I have helm_release defined
    When its chart is nvidia-device-plugin
    Then it must fail
