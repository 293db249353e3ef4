"""Shared contracts of steelthread: the API, the prediction log and feedback.

Server, clients, monitoring and batch all import these models, so a field can only change in one place
and every consumer sees the change at type-check time.
"""

from steelthread_contracts.api import (
    MAX_BATCH_SIZE,
    BatchPredictionRequest,
    BatchPredictionResponse,
    Decision,
    ErrorBody,
    ErrorCode,
    FeedbackAccepted,
    FeedbackRecord,
    LoanPurpose,
    ModelDescription,
    ModelInfo,
    PredictionRequest,
    PredictionResponse,
    RefusedPackage,
    ServingMode,
)
from steelthread_contracts.log import (
    PREDICTION_LOG_SCHEMA_VERSION,
    PredictionLogRecord,
    ScoreRecord,
)

__all__ = [
    "MAX_BATCH_SIZE",
    "PREDICTION_LOG_SCHEMA_VERSION",
    "BatchPredictionRequest",
    "BatchPredictionResponse",
    "Decision",
    "ErrorBody",
    "ErrorCode",
    "FeedbackAccepted",
    "FeedbackRecord",
    "LoanPurpose",
    "ModelDescription",
    "ModelInfo",
    "PredictionLogRecord",
    "PredictionRequest",
    "PredictionResponse",
    "RefusedPackage",
    "ScoreRecord",
    "ServingMode",
]
