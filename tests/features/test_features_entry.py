"""The feature CLIs say which extra is missing in one line, instead of an ImportError traceback."""

from __future__ import annotations

import subprocess
import sys

# Runs the console entry point with Feast and pandas hidden, as in an install without the extra.
CODE = """
import importlib.util, sys
real = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name in ("feast", "pandas") else real(name, *a)
from steelthread_features.entry import features
sys.argv = ["steelthread-features", "--help"]
features()
"""


def test_missing_feast_extra_is_one_readable_line() -> None:
    result = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: steelthread-features needs the feast extra (feast, pandas not installed): "
        "pip install 'steelthread-features[feast]'"
    ]


def test_with_the_extra_the_cli_runs() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.argv=['steelthread-data', '--help'];"
            "from steelthread_features.entry import data; data()",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "steelthread-data" in result.stdout


def test_no_arguments_prints_the_help_once_and_exits_2() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.argv=['steelthread-features'];"
            "from steelthread_features.entry import features; features()",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert (result.stdout + result.stderr).count("Usage:") == 1
