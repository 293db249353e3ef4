# terraform init -backend-config=backend/cpu/dev.hcl  (state of the dev CPU stack)
bucket       = "steelthread-terraform-state"
key          = "cpu/dev/terraform.tfstate"
region       = "eu-west-1"
encrypt      = true
use_lockfile = true
