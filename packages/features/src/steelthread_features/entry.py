"""Console entry points that explain a missing `feast` extra in one line instead of a traceback.

The base package is what serving needs (the direct online reader); the CLIs need Feast, pandas and pyarrow,
which come with `steelthread-features[feast]`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable

from steelthread_contracts.settings import exit_on_unknown_variables

EXTRA_MODULES = ("feast", "pandas", "pyarrow", "typer", "rich", "yaml")


def _load(module: str, command: str) -> Callable[[], None]:
    exit_on_unknown_variables()
    missing = [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        print(
            f"error: {command} needs the feast extra ({', '.join(missing)} not installed): "
            "pip install 'steelthread-features[feast]'",
            file=sys.stderr,
        )
        raise SystemExit(2)
    main: Callable[[], None] = importlib.import_module(f"steelthread_features.{module}").main
    return main


def data() -> None:
    _load("data_cli", "steelthread-data")()


def features() -> None:
    _load("features_cli", "steelthread-features")()
