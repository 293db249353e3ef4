"""Model specs are reviewed before they merge (ML Test Score M1): the train workflow runs on pull requests
that touch a use case, the features or training, posts the review comment the training CLI renders, never
reaches production stores from a pull request, and CODEOWNERS names who approves training configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATHS = {"usecases/**", "packages/features/**", "packages/training/**"}


@pytest.fixture(scope="module")
def train(workflows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return workflows["train.yml"]


def test_pull_requests_touching_the_use_case_features_or_training_run_it(train: dict[str, Any]) -> None:
    assert set(train["on"]["pull_request"]["paths"]) == PATHS
    assert set(train["on"]["push"]["paths"]) >= PATHS


def test_the_review_is_posted_as_a_comment_on_pull_requests_only(train: dict[str, Any]) -> None:
    job = train["jobs"]["train"]
    assert job["permissions"]["pull-requests"] == "write"
    post = next(s for s in job["steps"] if "gh pr comment" in s.get("run", ""))
    assert "github.event_name == 'pull_request'" in post["if"]
    assert "always()" in post["if"], "a refused gate is exactly what the reviewer must see"
    assert "review.md" in post["run"]
    train = next(s for s in job["steps"] if s.get("name", "").startswith("Train, evaluate"))
    assert "make train" in train["run"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--report-dir $(STEELTHREAD_DATA_DIR)/training/last-run" in makefile


def test_a_pull_request_never_reaches_the_production_stores(train: dict[str, Any]) -> None:
    env = train["jobs"]["train"]["env"]
    assert env["STEELTHREAD_PROFILE"].startswith("${{ github.event_name == 'pull_request' && 'local'")
    for name in (
        "STEELTHREAD_MLFLOW_TRACKING_URI",
        "STEELTHREAD_POSTGRES_DSN",
        "STEELTHREAD_REDIS_URL",
        "STEELTHREAD_OFFLINE_STORE_URI",
    ):
        assert "github.event_name != 'pull_request' &&" in env[name], name


def test_the_champion_of_a_pull_request_is_the_base_branchs_model_on_the_same_data(
    train: dict[str, Any],
) -> None:
    steps = train["jobs"]["train"]["steps"]
    names = [s.get("name", "") for s in steps]
    base = next(i for i, n in enumerate(names) if n.startswith("The champion to compare with"))
    train = next(i for i, n in enumerate(names) if n.startswith("Train, evaluate"))
    data = next(i for i, n in enumerate(names) if n.startswith("Generate data"))
    assert data < base < train
    script = steps[base]["run"]
    assert 'git checkout "$BASE_SHA" -- usecases packages' in script
    assert "--to champion" in script
    assert script.rstrip().splitlines()[-2].strip() == "git checkout HEAD -- usecases packages"


def test_codeowners_name_who_approves_training_configuration() -> None:
    owners = (ROOT / ".github" / "CODEOWNERS").read_text(encoding="utf-8").splitlines()
    rules = {
        line.split()[0]: line.split()[1:] for line in owners if line.strip() and not line.startswith("#")
    }
    for usecase in ("credit", "delivery"):
        assert "@steelthread-org/ml" in rules[f"/usecases/{usecase}/src/*/training.yaml"]
    assert "@steelthread-org/ml" in rules["/packages/training/"]
    assert "@steelthread-org/ml" in rules["/infra/prometheus/staleness/"]
