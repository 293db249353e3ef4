"""One ONNX run per batch of requests: every row is scored as if alone and checked on its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from helpers.packages import make_package
from helpers.usecase import USE_CASE
from steelthread_features.definitions import FEATURE_NAMES
from steelthread_serving.features import FeatureVector
from steelthread_serving.metrics import ServingMetrics
from steelthread_serving.package import OnnxModel, load_package
from steelthread_serving.scoring import score_rows

CPU = ["CPUExecutionProvider"]


def _vectors(n: int, seed: int = 0) -> list[FeatureVector]:
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(n, len(FEATURE_NAMES)))
    return [
        FeatureVector(
            values={
                name: (None if (i + j) % 11 == 0 else float(v))
                for j, (name, v) in enumerate(zip(FEATURE_NAMES, row, strict=True))
            }
        )
        for i, row in enumerate(rows)
    ]


def _invalid(metrics: ServingMetrics, version: str) -> float:
    value = metrics.registry.get_sample_value("steelthread_invalid_scores_total", {"model_version": version})
    return value or 0.0


def test_a_row_scores_the_same_alone_and_in_a_batch(tmp_path: Path) -> None:
    model = load_package(make_package(tmp_path, "1"), CPU)
    vectors = _vectors(64)
    together = score_rows(model, "champion", vectors, ServingMetrics())
    alone = [score_rows(model, "champion", [v], ServingMetrics())[0] for v in vectors]
    assert together == alone  # bit for bit: rows of a tree ensemble are independent
    low, high = USE_CASE.score_range
    assert all(e["error"] is None and low <= e["score"] <= high for e in together)  # type: ignore[operator]
    assert together[0] == {
        "model_name": model.name,
        "model_version": "1",
        "role": "champion",
        "score": together[0]["score"],
        "error": None,
    }


def test_an_invalid_score_fails_only_its_own_row(tmp_path: Path, monkeypatch) -> None:
    model: OnnxModel = load_package(make_package(tmp_path, "1"), CPU)
    metrics = ServingMetrics()
    low, high = USE_CASE.score_range
    inside, above = low + (high - low) / 4, high + 0.5  # a score within the range, one above it
    monkeypatch.setattr(model, "predict", lambda matrix: np.array([inside, np.nan, above]))
    entries = score_rows(model, "challenger", _vectors(3), metrics)
    assert [e["score"] for e in entries] == [inside, None, None]
    assert entries[0]["error"] is None
    assert entries[1]["error"] == "invalid_score: nan"
    assert entries[2]["error"] == f"invalid_score: {above!r}"
    assert {e["role"] for e in entries} == {"challenger"}
    assert _invalid(metrics, "1") == 2


def test_a_model_that_fails_gives_every_row_an_error_not_an_exception(tmp_path: Path, monkeypatch) -> None:
    model: OnnxModel = load_package(make_package(tmp_path, "1"), CPU)
    metrics = ServingMetrics()

    def broken(matrix: np.ndarray) -> np.ndarray:
        raise RuntimeError("session lost its mind")

    monkeypatch.setattr(model, "predict", broken)
    entries = score_rows(model, "champion", _vectors(4), metrics)
    assert [e["error"] for e in entries] == ["model_error: session lost its mind"] * 4
    assert all(e["score"] is None for e in entries)

    monkeypatch.setattr(model, "predict", lambda matrix: np.array([0.5]))  # fewer scores than rows
    entries = score_rows(model, "champion", _vectors(2), metrics)
    assert [e["error"] for e in entries] == ["model_error: 1 scores for 2 rows"] * 2
    assert _invalid(metrics, "1") == 0
