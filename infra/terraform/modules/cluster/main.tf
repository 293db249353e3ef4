# The EKS cluster: a private control plane with secrets encryption and IRSA, a CPU managed node group, and
# optionally a GPU node group that only pods tolerating the nvidia.com/gpu taint can land on.
locals {
  gpu_taint = {
    key    = "nvidia.com/gpu"
    value  = "true"
    effect = "NO_SCHEDULE"
  }

  cpu_node_groups = {
    cpu = {
      name           = "cpu"
      ami_type       = "AL2023_x86_64_STANDARD"
      instance_types = var.cpu_node_group.instance_types
      min_size       = var.cpu_node_group.min_size
      max_size       = var.cpu_node_group.max_size
      desired_size   = var.cpu_node_group.desired_size
      block_device_mappings = {
        xvda = {
          device_name = "/dev/xvda"
          ebs = {
            volume_size           = var.cpu_node_group.disk_size_gib
            volume_type           = "gp3"
            encrypted             = true
            delete_on_termination = true
          }
        }
      }
      labels = {
        "steelthread.io/accelerator" = "cpu"
      }
      taints = {}
    }
  }

  # try() keeps this evaluable when gpu_node_group is null; the for-filter then drops it (a conditional between
  # {} and this object would not type-check).
  gpu_node_group_config = {
    gpu = {
      name           = "gpu"
      ami_type       = try(var.gpu_node_group.ami_type, null)
      instance_types = try(var.gpu_node_group.instance_types, [])
      min_size       = try(var.gpu_node_group.min_size, 0)
      max_size       = try(var.gpu_node_group.max_size, 0)
      desired_size   = try(var.gpu_node_group.desired_size, 0)
      block_device_mappings = {
        xvda = {
          device_name = "/dev/xvda"
          ebs = {
            volume_size           = try(var.gpu_node_group.disk_size_gib, 100)
            volume_type           = "gp3"
            encrypted             = true
            delete_on_termination = true
          }
        }
      }
      labels = {
        "steelthread.io/accelerator" = "nvidia-gpu"
        "nvidia.com/gpu.present"     = "true"
      }
      taints = {
        gpu = local.gpu_taint
      }
    }
  }

  gpu_node_groups = { for name, group in local.gpu_node_group_config : name => group if var.gpu_node_group != null }
}

module "eks" {
  #checkov:skip=CKV_TF_1:Registry module pinned to a version range; the lock file and plan review pin what runs.
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 20.37"

  cluster_name    = var.cluster_name
  cluster_version = var.kubernetes_version

  vpc_id                   = var.vpc_id
  subnet_ids               = var.subnet_ids
  control_plane_subnet_ids = var.subnet_ids

  cluster_endpoint_private_access      = true
  cluster_endpoint_public_access       = length(var.endpoint_public_access_cidrs) > 0
  cluster_endpoint_public_access_cidrs = var.endpoint_public_access_cidrs

  enable_irsa                              = true
  enable_cluster_creator_admin_permissions = true
  authentication_mode                      = "API"

  # Kubernetes secrets are envelope-encrypted with a KMS key the module creates and rotates.
  create_kms_key                         = true
  enable_kms_key_rotation                = true
  cluster_encryption_config              = { resources = ["secrets"] }
  cluster_enabled_log_types              = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
  cloudwatch_log_group_retention_in_days = var.log_retention_days

  cluster_addons = {
    coredns                = { most_recent = true }
    kube-proxy             = { most_recent = true }
    vpc-cni                = { most_recent = true, before_compute = true }
    eks-pod-identity-agent = { most_recent = true }
  }

  eks_managed_node_group_defaults = {
    capacity_type = "ON_DEMAND"
    metadata_options = {
      http_endpoint               = "enabled"
      http_tokens                 = "required"
      http_put_response_hop_limit = 1
    }
  }

  eks_managed_node_groups = merge(local.cpu_node_groups, local.gpu_node_groups)

  tags = var.tags
}
