# terraform init -backend-config=backend/gpu/staging.hcl  (state of the staging GPU stack)
bucket       = "steelthread-terraform-state"
key          = "gpu/staging/terraform.tfstate"
region       = "eu-west-1"
encrypt      = true
use_lockfile = true
