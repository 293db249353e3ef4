# terraform init -backend-config=backend/gpu/dev.hcl  (state of the dev GPU stack)
bucket       = "steelthread-terraform-state"
key          = "gpu/dev/terraform.tfstate"
region       = "eu-west-1"
encrypt      = true
use_lockfile = true
