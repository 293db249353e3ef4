# terraform init -backend-config=backend/dev.hcl  (state of the dev GPU environment)
bucket       = "steelthread-terraform-state"
key          = "gpu/dev/terraform.tfstate"
region       = "eu-west-1"
encrypt      = true
use_lockfile = true
