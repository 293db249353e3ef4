# terraform init -backend-config=backend/staging.hcl  (state of the staging CPU environment)
bucket       = "steelthread-terraform-state"
key          = "cpu/staging/terraform.tfstate"
region       = "eu-west-1"
encrypt      = true
use_lockfile = true
