"""The active use case's data generator: deterministic synthetic tables with named drift scenarios.

The generator is the use case's own code (`UseCase.generator` names its module); this module is the one
place the plumbing reaches it, so the data CLI, training, the demo and the tests never name a use case.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from steelthread_contracts.usecase import UseCaseError
from steelthread_features.definitions import USE_CASE


def _module() -> ModuleType:
    try:
        return importlib.import_module(USE_CASE.generator)
    except ImportError as exc:
        raise UseCaseError(f"use case {USE_CASE.name!r}: generator {USE_CASE.generator!r}: {exc}") from None


_GENERATOR = _module()
TABLES: tuple[str, ...] = tuple(_GENERATOR.TABLES)
DEFAULT_END = _GENERATOR.DEFAULT_END
DEFAULT_DAYS: int = int(_GENERATOR.DEFAULT_DAYS)
SCENARIOS: tuple[str, ...] = tuple(USE_CASE.scenarios)


def generate(rows: int, seed: int = 0, scenario: str | None = None, **kwargs: Any) -> Any:
    """The use case's tables for `rows` events (`end=`, `days=` as the generator takes them)."""
    if scenario is not None and scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; expected one of {', '.join(SCENARIOS)}")
    return _GENERATOR.generate(rows, seed=seed, scenario=scenario, **kwargs)


def write(data: Any, out: Path) -> dict[str, Path]:
    """Write every table as `<out>/<table>/<table>.parquet` plus `<out>/manifest.json`."""
    paths: dict[str, Path] = _GENERATOR.write(data, out)
    return paths


def read(data_dir: Path, name: str) -> pd.DataFrame:
    """Read one generated table back as pandas (timestamps stay datetime64[us, UTC])."""
    frame: pd.DataFrame = _GENERATOR.read(data_dir, name)
    return frame
