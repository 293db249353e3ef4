"""Column names of the training frame, shared by every stage.

The frame is one row per labelled application: entity columns, credit_risk_v1's features in order, the
slice attributes and the label. Only FEATURE columns ever reach a model.
"""

from __future__ import annotations

from typing import Final

from steelthread_features.definitions import EVENT_TIMESTAMP, FEATURE_NAMES, FEATURE_SERVICE

LABEL: Final = "label"
TIME: Final = EVENT_TIMESTAMP
REQUEST_ID: Final = "request_id"
PROTECTED: Final = "protected_group"
INCOME_BAND: Final = "income_band"
SLICE_COLUMNS: Final[tuple[str, ...]] = ("purpose", INCOME_BAND, "region", PROTECTED)
"""Evaluation and monitoring attributes; never model inputs."""
SCORE: Final = "score"
MODEL_FEATURES: Final[tuple[str, ...]] = FEATURE_NAMES
SERVICE: Final = FEATURE_SERVICE
