# terraform init -backend-config=backend/cpu/staging.hcl  (state of the staging CPU stack)
bucket       = "steelthread-terraform-state"
key          = "cpu/staging/terraform.tfstate"
region       = "eu-west-1"
encrypt      = true
use_lockfile = true
