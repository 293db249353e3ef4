"""One ONNX run over the feature vectors of several requests, each score checked on its own.

A model that raises, or returns a NaN or a score outside the use case's `score_range`, gives that request an
error entry and the fallback answers it; it never fails the request (or the other requests scored in the
same run).
"""

from __future__ import annotations

import math
from typing import TypedDict

from steelthread_contracts.degraded import INVALID_SCORE_REASON, MODEL_ERROR_REASON
from steelthread_serving.features import FeatureVector
from steelthread_serving.metrics import ServingMetrics
from steelthread_serving.package import OnnxModel
from steelthread_serving.usecase import SCORE_RANGE

LOWEST, HIGHEST = SCORE_RANGE


class ScoreEntry(TypedDict):
    """One `ScoreRecord` of the prediction log, as the JSON the log stores."""

    model_name: str
    model_version: str
    role: str
    score: float | None
    error: str | None


def score_rows(
    model: OnnxModel, role: str, vectors: list[FeatureVector], metrics: ServingMetrics
) -> list[ScoreEntry]:
    """`model`'s entry for each vector, from one onnxruntime call (its fixed cost is most of what scoring
    one row costs). Rows are independent in a tree ensemble, so a row scores the same
    alone or in a batch (tests/serving/test_serving_modes.py compares the two)."""
    try:
        scores = model.predict(model.matrix([vector.values for vector in vectors])).tolist()
        if len(scores) != len(vectors):
            raise ValueError(f"{len(scores)} scores for {len(vectors)} rows")
    except Exception as exc:  # a model that cannot answer must not fail the requests
        error = f"{MODEL_ERROR_REASON}: {str(exc)[:120]}"
        return [_entry(model, role, None, error) for _ in vectors]
    entries = []
    for score in scores:
        if math.isfinite(score) and LOWEST <= score <= HIGHEST:
            entries.append(_entry(model, role, score, None))
        else:
            metrics.child(metrics.invalid_scores, model.version).inc()
            entries.append(_entry(model, role, None, f"{INVALID_SCORE_REASON}: {score!r}"))
    return entries


def _entry(model: OnnxModel, role: str, score: float | None, error: str | None) -> ScoreEntry:
    return ScoreEntry(model_name=model.name, model_version=model.version, role=role, score=score, error=error)
