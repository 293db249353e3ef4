"""Models the server can answer with.

The skeleton is a constant: it lets consumers integrate on day one and stays loaded as the fallback that
answers whenever the registered model cannot. It has no thresholds: its decision is the decision policy's
fail-closed fallback (`steelthread_contracts.decision`), so a constant can never approve anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from steelthread_contracts import ModelDescription
from steelthread_contracts.decision import Thresholds


@dataclass(frozen=True)
class SkeletonModel:
    score: float
    name: str = "skeleton"
    version: str = "0"
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    thresholds: Thresholds | None = None
    """Always None: `decide` then answers the policy's fallback decision."""

    def predict(self) -> float:
        return self.score

    def describe(self) -> ModelDescription:
        return ModelDescription(name=self.name, version=self.version, loaded_at=self.loaded_at)
