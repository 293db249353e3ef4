# terraform init -backend-config=backend/cpu/prod.hcl  (state of the prod CPU stack)
bucket       = "steelthread-terraform-state"
key          = "cpu/prod/terraform.tfstate"
region       = "eu-west-1"
encrypt      = true
use_lockfile = true
