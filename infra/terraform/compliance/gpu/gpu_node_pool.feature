Feature: GPU node pools hold GPU instances only
  In order to pay for GPUs only where GPU workloads run
  As the platform team
  The GPU stack's accelerated node group (gpu_node_group_enabled = true) uses GPU instance types, an NVIDIA AMI and a NoSchedule taint

  Scenario: The GPU stack has an NVIDIA-accelerated node group
    Given I have aws_eks_node_group defined
    When its ami_type is AL2023_x86_64_NVIDIA
    Then it must contain instance_types

  Scenario: Accelerated node groups use GPU instance types only
    Given I have aws_eks_node_group defined
    When its ami_type is AL2023_x86_64_NVIDIA
    Then it must contain instance_types
    And its value must match the "^(g|p)[0-9]" regex

  Scenario: Accelerated node groups are tainted so only GPU workloads land there
    Given I have aws_eks_node_group defined
    When its ami_type is AL2023_x86_64_NVIDIA
    Then it must contain taint
    And it must contain key
    And its value must be nvidia.com/gpu

  Scenario: The NVIDIA device plugin is installed
    Given I have helm_release defined
    Then it must contain chart
    And its value must be nvidia-device-plugin
