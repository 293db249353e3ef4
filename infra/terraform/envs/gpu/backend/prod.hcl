# terraform init -backend-config=backend/prod.hcl  (state of the prod GPU environment)
bucket       = "steelthread-terraform-state"
key          = "gpu/prod/terraform.tfstate"
region       = "eu-west-1"
encrypt      = true
use_lockfile = true
