"""Two test tiers and a coverage floor, wired in the Makefile: `make test` runs every test, nothing filtered
out; `make test-fast` runs the unit tier (modules that exist, in-process only); `make coverage` has a floor.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = (ROOT / "Makefile").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _recipe(target: str) -> list[str]:
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", MAKEFILE, re.MULTILINE)
    assert match, f"no recipe for {target}"
    return [line.strip() for line in match.group(1).splitlines()]


def _unit_tests() -> list[str]:
    match = re.search(r"^UNIT_TESTS :=((?:.*\\\n)*.*)$", MAKEFILE, re.MULTILINE)
    assert match, "no UNIT_TESTS in the Makefile"
    return match.group(1).replace("\\\n", " ").split()


def test_make_test_runs_every_test_with_no_filter() -> None:
    assert _recipe("test") == ["$(RUN) pytest"]
    addopts = " ".join(PYPROJECT["tool"]["pytest"]["ini_options"]["addopts"])
    assert not re.search(r"(^|\s)(-m|-k|--deselect|--ignore)\b", addopts), addopts


def test_the_unit_tier_names_existing_modules_and_leaves_out_slow_and_service_tests() -> None:
    paths = _unit_tests()
    assert paths
    for path in paths:
        assert (ROOT / path).exists(), path
    (command,) = _recipe("test-fast")
    assert '-m "not slow and not services"' in command
    assert command.endswith("$(UNIT_TESTS)")


def test_coverage_runs_every_test_against_a_floor() -> None:
    (command,) = _recipe("coverage")
    assert command.startswith("$(RUN) pytest --cov")
    assert not re.search(r"\s(-m|-k)\s", command)
    floor = PYPROJECT["tool"]["coverage"]["report"]["fail_under"]
    assert 0 < floor <= 100
    assert "pytest-cov" in " ".join(PYPROJECT["dependency-groups"]["dev"])
