"""Shared fixtures of the training tests.

Unit tests use tiny random frames (`random_frame`); the integration tests share one generated data set,
one applied Feast repo and one trained, registered model per session, because `import feast`, `apply`
and an MLflow run cost tens of seconds each on two cores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from steelthread_contracts.package import Task
from steelthread_training.candidate import Candidate
from steelthread_training.dataset import TrainingSet
from steelthread_training.frame import LABEL, REQUEST_ID, SPEC, TIME, FrameSpec
from steelthread_training.pipeline import TrainingOutcome
from steelthread_training.settings import TrainingSettings
from steelthread_training.tracking import Registry

ROWS = 4_000
SEED = 3


def random_frame(n: int = 2_000, seed: int = 0, spec: FrameSpec = SPEC) -> pd.DataFrame:
    """A training frame of `spec` (default: the active use case's): uniform features, a label of the spec's
    task that depends on its first three features, 5 % missing values in a fourth, the event time, a request
    id and a few values per slice column (the protected attribute included)."""
    rng = np.random.default_rng(seed)
    features = spec.features
    frame = pd.DataFrame({name: rng.uniform(0.0, 1.0, n) for name in features})
    strong, medium, weak = (frame[name].to_numpy() for name in features[:3])
    if len(features) > 3:
        frame.loc[rng.random(n) < 0.05, features[3]] = np.nan
    signal = 3.0 * strong + 1.5 * medium - 1.0 * weak
    if spec.task is Task.BINARY:
        label = (rng.random(n) < 1 / (1 + np.exp(-(signal - 2.5)))).astype("int64")
    elif spec.task is Task.REGRESSION:
        label = 20.0 + 10.0 * signal + rng.normal(scale=2.0, size=n)
    else:
        noisy = signal + rng.normal(scale=0.5, size=n)
        label = np.digitize(noisy, np.quantile(noisy, [1 / 3, 2 / 3])).astype("int64")
    frame[LABEL] = label
    frame[TIME] = pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC").astype("datetime64[us, UTC]")
    frame[REQUEST_ID] = [f"r{i:06d}" for i in range(n)]
    for k, column in enumerate(spec.slices):
        frame[column] = rng.choice([f"{column}_{v}" for v in range(2 + k % 2)], n)
    return frame


@pytest.fixture(scope="session")
def make_frame() -> Callable[..., pd.DataFrame]:
    """`random_frame` for test modules (conftest cannot be imported under --import-mode=importlib)."""
    return random_frame


@pytest.fixture(scope="session")
def settings_for() -> Callable[..., TrainingSettings]:
    return make_settings


@pytest.fixture(scope="session")
def register_version() -> Callable[..., str]:
    return register_candidate


def register_candidate(registry: Registry, candidate: Candidate, workdir: Path) -> str:
    """Log `candidate` as a new run and register it as a new version, as a training run does."""
    from steelthread_training.config import load_config
    from steelthread_training.run_log import log_and_register
    from steelthread_training.validation import validate_frame

    report = validate_frame(candidate.split.train, load_config().validation)
    reg = log_and_register(
        registry, candidate, config=load_config(), seed=0, tags={"data_fingerprint": "test"}, validation=report,
        workdir=workdir,
    )  # fmt: skip
    return reg.version


def make_settings(root: Path, **overrides: object) -> TrainingSettings:
    """Settings rooted in a tmp folder, ignoring any STEELTHREAD_* paths of the calling shell (a folder set to
    None is the one under root)."""
    values: dict[str, object] = {
        "data_dir": root,
        "tables_dir": None,
        "feast_dir": None,
        "models_dir": None,
        "audit_dir": None,
        "mlflow_tracking_uri": None,
        "mlflow_artifacts_uri": None,
        "training_config": None,
        "profile": "local",
        "actor": "pytest",
        "seed": SEED,
    }
    values.update(overrides)
    return TrainingSettings(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class World:
    root: Path
    settings: TrainingSettings
    training_set: TrainingSet


@dataclass(frozen=True)
class Trained:
    world: World
    outcome: TrainingOutcome


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """Generated data + applied Feast repo + the point-in-time training set, built once."""
    from steelthread_training.dataset import build_training_set
    from steelthread_training.pipeline import generate_data

    root = tmp_path_factory.mktemp("training")
    settings = make_settings(root)
    generate_data(settings, ROWS, SEED)
    return World(root=root, settings=settings, training_set=build_training_set(settings))


@pytest.fixture(scope="session")
def trained(world: World) -> Trained:
    """The first registered version: gate passed, challenger, published (MLflow on SQLite in tmp)."""
    from steelthread_training.pipeline import run_training

    outcome = run_training(world.settings, training_set=world.training_set)
    return Trained(world=world, outcome=outcome)
