"""Prediction-log contract: one record per answered prediction, append-only, schema-versioned.

Monitoring and batch read and write only this shape, never serving internals.

Schema 2 names the entity key `entity_key`, whatever the use case calls it (the request keeps the use
case's own names); schema 1 (written before use cases were a seam) named it after the credit example. A
reader accepts both: `PredictionLogRecord` maps a schema-1 record on validation, and LEGACY_ENTITY_FIELD
is the one place the old name lives.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from steelthread_contracts.api import Decision, DecisionSource, ServingMode

PREDICTION_LOG_SCHEMA_VERSION: Final = 2
READABLE_SCHEMA_VERSIONS: Final = frozenset({1, 2})
ENTITY_FIELD: Final = "entity_key"
"""The record's entity-key field (schema 2)."""
LEGACY_ENTITY_FIELD: Final = {1: "customer_id"}
"""What older schemas called the entity key (schema 1, the credit example's join key)."""


class ScoreRecord(BaseModel):
    """One score computed for a request (the answering model, a shadow or the challenger)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_name: str
    model_version: str
    role: str = Field(description="champion, stable (the previous champion), challenger or fallback")
    score: float | None = Field(description="None when the model failed; see `error`.")
    error: str | None = None


class PredictionLogRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = PREDICTION_LOG_SCHEMA_VERSION
    logged_at: AwareDatetime
    request_id: str
    entity_key: int = Field(description="The entity's join-key value (the use case names the key).")
    source: str = Field(default="online", description="online or batch")
    model_name: str
    model_version: str
    mode: ServingMode
    request: dict[str, float | int | str | None] = Field(description="The application fields as received.")
    features: dict[str, float | None] = Field(
        default_factory=dict, description="Feature values the answering model saw, by name."
    )
    score: float = Field(description="The score that was answered (the use case names it in the API).")
    decision: Decision
    decided_by: DecisionSource | None = Field(
        default=None, description="Which rule decided (absent in records written before it was logged)."
    )
    degraded: bool = False
    degraded_reason: str | None = None
    scores: list[ScoreRecord] = Field(default_factory=list, description="Every score computed.")
    latency_ms: float = Field(ge=0)
    client: str | None = Field(
        default=None,
        description="Owner of the API key that asked (never the key); null for batch and older records.",
    )

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """A schema-1 record reads as schema 2: its entity key moves to `entity_key`."""
        if isinstance(data, dict) and data.get("schema_version") in LEGACY_ENTITY_FIELD:
            old = LEGACY_ENTITY_FIELD[data["schema_version"]]
            if old in data and ENTITY_FIELD not in data:
                data = {k: v for k, v in data.items() if k != old} | {ENTITY_FIELD: data[old]}
        return data
