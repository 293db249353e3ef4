# terraform init -backend-config=backend/prod.hcl  (state of the prod CPU environment)
bucket       = "steelthread-terraform-state"
key          = "cpu/prod/terraform.tfstate"
region       = "eu-west-1"
encrypt      = true
use_lockfile = true
