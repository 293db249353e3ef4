"""Fixtures for serving tests: a real uvicorn server on loopback and a real HTTP client."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.serving import API_KEY, OTHER_KEY, Live, running
from helpers.world import FeatureWorld, build_world
from steelthread_serving.settings import DEFAULT_FLAGS_PATH, ServingSettings


@pytest.fixture
def flags_file(tmp_path: Path) -> Path:
    path = tmp_path / "flags.json"
    shutil.copy(DEFAULT_FLAGS_PATH, path)
    return path


@pytest.fixture
def settings(tmp_path: Path, flags_file: Path) -> ServingSettings:
    return ServingSettings(
        data_dir=tmp_path / "var",
        api_keys=[API_KEY, OTHER_KEY],  # type: ignore[list-item]
        flags_path=flags_file,
        flags_poll_ms=50,
        max_body_bytes=256 * 1024,
    )


@pytest.fixture
def live(settings: ServingSettings) -> Iterator[Live]:
    with running(settings) as server:
        yield server


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> FeatureWorld:
    """Generated data applied to a local Feast store and materialised up to now (shared: ~20 s)."""
    return build_world(tmp_path_factory.mktemp("world"))


@pytest.fixture
def model_settings(tmp_path: Path, flags_file: Path, world: FeatureWorld) -> ServingSettings:
    """Settings of a server that reads real online features and watches tmp_path/models."""
    return ServingSettings(
        data_dir=world.root,
        models_dir=tmp_path / "models",
        prediction_log_dir=tmp_path / "log",
        feedback_dir=tmp_path / "feedback",
        api_keys=[API_KEY],  # type: ignore[list-item]
        flags_path=flags_file,
        flags_poll_ms=50,
        model_poll_ms=100,
        feature_timeout_ms=2000,
    )
