"""Models the server can answer with.

The skeleton is a constant: it lets consumers integrate on day one and stays loaded as the fallback that
answers whenever the registered model cannot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from steelthread_contracts import Decision, ModelDescription


@dataclass(frozen=True)
class Thresholds:
    """Scores at or above `review` go to a person; at or above `decline` are declined."""

    review: float
    decline: float

    def decide(self, score: float) -> Decision:
        if score >= self.decline:
            return Decision.DECLINE
        if score >= self.review:
            return Decision.REVIEW
        return Decision.APPROVE


@dataclass(frozen=True)
class SkeletonModel:
    score: float
    thresholds: Thresholds
    name: str = "skeleton"
    version: str = "0"
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def predict(self) -> float:
        return self.score

    def describe(self) -> ModelDescription:
        return ModelDescription(
            name=self.name,
            version=self.version,
            loaded_at=self.loaded_at,
            threshold=self.thresholds.decline,
        )
