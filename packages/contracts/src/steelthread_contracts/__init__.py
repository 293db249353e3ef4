"""Shared contracts of steelthread: the API, the prediction log and feedback.

Server, clients, monitoring and batch all import these models, so a field can only change in one place
and every consumer sees the change at type-check time.

`PredictionRequest`, `PredictionResponse`, their batch forms and `FeedbackRecord` are derived from the
active use case (`steelthread_contracts.requests`) when first used, so importing this package loads no use
case; type checkers see the fields every use case's models share (`steelthread_contracts.api`'s `*Base`).
The request's enums are reachable by name too (the credit example's `LoanPurpose`).
"""

from typing import TYPE_CHECKING, Any

from steelthread_contracts.api import (
    MAX_BATCH_SIZE,
    Decision,
    ErrorBody,
    ErrorCode,
    Explanation,
    FeedbackAccepted,
    ModelDescription,
    ModelInfo,
    ReasonCode,
    RefusedPackage,
    ServingMode,
)
from steelthread_contracts.log import (
    PREDICTION_LOG_SCHEMA_VERSION,
    PredictionLogRecord,
    ScoreRecord,
)

if TYPE_CHECKING:
    from steelthread_contracts.api import BatchPredictionRequestBase as BatchPredictionRequest
    from steelthread_contracts.api import BatchPredictionResponseBase as BatchPredictionResponse
    from steelthread_contracts.api import FeedbackRecordBase as FeedbackRecord
    from steelthread_contracts.api import PredictionRequestBase as PredictionRequest
    from steelthread_contracts.api import PredictionResponseBase as PredictionResponse


def __getattr__(name: str) -> Any:
    """The derived models (typed above by their shared fields) and the request's enums by name (untyped:
    which exist depends on the use case), built on first use."""
    if name.startswith("__"):  # the import system asks for `__path__`: no use case for that
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from steelthread_contracts.requests import derived

    return derived(__name__, name)


__all__ = [
    "MAX_BATCH_SIZE",
    "PREDICTION_LOG_SCHEMA_VERSION",
    "BatchPredictionRequest",
    "BatchPredictionResponse",
    "Decision",
    "ErrorBody",
    "ErrorCode",
    "Explanation",
    "FeedbackAccepted",
    "FeedbackRecord",
    "ModelDescription",
    "ModelInfo",
    "PredictionLogRecord",
    "PredictionRequest",
    "PredictionResponse",
    "ReasonCode",
    "RefusedPackage",
    "ScoreRecord",
    "ServingMode",
]
