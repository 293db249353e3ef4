"""The experiment and evaluation pages' commands, run under the condition each page is for.

Each page's ```` ```bash experiment ```` blocks run in order (bash -euo pipefail) against replayed traffic of
two model versions with labels (tests/helpers/experiments.py): a canary made worse by a known amount that
the step aborts, a canary whose split is not the planned one, and a challenger whose shadow scores are
better than the champion's. A page's block that checks a condition is also shown to fail without it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from helpers.experiments import CANARY, STABLE, STABLE_SEED, World, write_traffic
from steelthread_monitoring.synthetic import plan, reference_frame
from steelthread_training.rollout import row_loss

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"),
]

REPO = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```bash experiment\n(.*?)```", re.DOTALL)
END = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
START = END - timedelta(hours=1)


def blocks(page: str) -> list[str]:
    return BLOCK.findall((REPO / "runbooks" / page).read_text())


def _env(world: World, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")}
    return env | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "STEELTHREAD_DATA_DIR": str(world.root),
        "STEELTHREAD_PROFILE": "local",
        "STABLE": STABLE,
        "CANARY": CANARY,
        "START": START.isoformat(),
        "END": END.isoformat(),
        "COLUMNS": "200",
        **extra,
    }


def run(command: list[str] | str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = ["bash", "-euo", "pipefail", "-c", command] if isinstance(command, str) else command
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def _mde() -> float:
    """A fifth of the per-request loss's spread of version 1 (what `plan` takes as its baseline): an
    effect of the same size whatever the use case's units."""
    reference = reference_frame(1_000, STABLE_SEED)
    loss = row_loss(plan().task, reference["score"].to_numpy(), reference["label"].to_numpy())
    return 0.2 * float(loss.std(ddof=1))


def _plan(env: dict[str, str], name: str, share: float) -> None:
    planned = run(
        ["steelthread-experiment", "plan", "--name", name, "--treatment", CANARY, "--treatment-share",
         str(share), "--mde", f"{_mde():.6g}", "--daily-units", "100000", "--max-days", "3650"],
        env,
    )  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    assert f"v{CANARY} against v{STABLE}" in planned.stdout


def _page(page: str, env: dict[str, str]) -> None:
    for number, block in enumerate(blocks(page), start=1):
        result = run(block, env)
        assert result.returncode == 0, (
            f"{page} block {number} exited {result.returncode}:\n{block}\n"
            f"--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-3000:]}"
        )


def test_the_pages_have_commands_the_tests_run() -> None:
    for page in ("canary-aborted.md", "experiment-halted.md", "challenger-better.md"):
        assert len(blocks(page)) >= 2, page


def test_canary_aborted_page_on_a_canary_made_worse(tmp_path: Path) -> None:
    world = write_traffic(tmp_path / "var", end=END, treatment_share=0.2, canary_noise=0.3)
    env = _env(world, EXPERIMENT="canary-v2", AFTER=END.isoformat())
    _plan(env, "canary-v2", 0.2)
    stepped = run(
        ["steelthread-experiment", "step", "--name", "canary-v2", "--start", env["START"], "--end", env["END"],
         "--final"],
        env,
    )  # fmt: skip
    assert stepped.returncode == 1, stepped.stdout + stepped.stderr
    assert "abort: always-valid p" in stepped.stdout
    _page("canary-aborted.md", env)
    nobody = blocks("canary-aborted.md")[2]
    assert "model_version" in nobody
    assert run(nobody, env | {"AFTER": env["START"]}).returncode != 0  # the canary did answer before


def test_experiment_halted_page_on_a_deliberate_sample_ratio_mismatch(tmp_path: Path) -> None:
    world = write_traffic(tmp_path / "var", end=END, treatment_share=0.4)  # planned 0.2
    env = _env(world, EXPERIMENT="canary-srm")
    _plan(env, "canary-srm", 0.2)
    _page("experiment-halted.md", env)
    even = write_traffic(tmp_path / "even", end=END, treatment_share=0.2, seed=6)
    fair = _env(even, EXPERIMENT="canary-even")
    _plan(fair, "canary-even", 0.2)
    assert run(blocks("experiment-halted.md")[0], fair).returncode != 0  # no mismatch: confirm fails


def test_challenger_better_page_on_better_shadow_scores(tmp_path: Path) -> None:
    world = write_traffic(tmp_path / "var", end=END, shadow=True, canary_noise=-0.3)
    env = _env(world, CHALLENGER=CANARY)
    _page("challenger-better.md", env)
    equal = write_traffic(tmp_path / "equal", end=END, shadow=True, seed=9)
    confirm = blocks("challenger-better.md")[0]
    assert run(confirm, _env(equal, CHALLENGER=CANARY)).returncode != 0  # equal scores: no such verdict
