terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.95, < 6.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6, < 4.0"
    }
    helm = {
      source  = "hashicorp/helm"
      version = ">= 2.17, < 3.0"
    }
  }

  # Partial configuration: `terraform init -backend-config=backend/<stack>/<environment>.hcl` picks the state of
  # one stack (cpu, gpu) in one environment (dev, staging, prod), so this one root serves all six with separate
  # state; the matching `-var-file=<stack>/<environment>.tfvars` sets the GPU toggle and sizes.
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

# The device plugin (GPU stack only) is installed through the cluster's API with short-lived tokens from the AWS CLI.
# The CPU stack declares no helm resource, so this provider is never used there.
provider "helm" {
  kubernetes {
    host                   = module.cluster.cluster_endpoint
    cluster_ca_certificate = base64decode(module.cluster.cluster_certificate_authority_data)

    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", module.cluster.cluster_name, "--region", var.region]
    }
  }
}
