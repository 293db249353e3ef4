"""Prediction-log contract: one record per answered prediction, append-only, schema-versioned.

Monitoring and batch read and write only this shape, never serving internals.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from steelthread_contracts.api import Decision, ServingMode

PREDICTION_LOG_SCHEMA_VERSION = 1


class ScoreRecord(BaseModel):
    """One score computed for a request (the answering model, a shadow or the challenger)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_name: str
    model_version: str
    role: str = Field(description="champion, challenger or fallback")
    score: float | None = Field(description="None when the model failed; see `error`.")
    error: str | None = None


class PredictionLogRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = PREDICTION_LOG_SCHEMA_VERSION
    logged_at: AwareDatetime
    request_id: str
    customer_id: int
    source: str = Field(default="online", description="online or batch")
    model_name: str
    model_version: str
    mode: ServingMode
    request: dict[str, float | int | str | None] = Field(description="The application fields as received.")
    features: dict[str, float | None] = Field(
        default_factory=dict, description="Feature values the answering model saw, by name."
    )
    score: float = Field(description="The probability of default that was answered.")
    decision: Decision
    degraded: bool = False
    degraded_reason: str | None = None
    scores: list[ScoreRecord] = Field(default_factory=list, description="Every score computed.")
    latency_ms: float = Field(ge=0)
