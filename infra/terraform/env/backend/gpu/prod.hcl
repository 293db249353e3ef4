# terraform init -backend-config=backend/gpu/prod.hcl  (state of the prod GPU stack)
bucket       = "steelthread-terraform-state"
key          = "gpu/prod/terraform.tfstate"
region       = "eu-west-1"
encrypt      = true
use_lockfile = true
