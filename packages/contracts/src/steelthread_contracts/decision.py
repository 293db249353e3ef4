"""The decision policy: one rule from a score and a package's thresholds to the answer's decision.

Serving, batch and monitoring's synthetic data all decide through this module, so the same package and the
same score give the same decision everywhere (before it existed, serving invented a review band that
batch did not have). The rule is written once as ordered cuts (`Thresholds.cuts`): a scalar caller uses
`decide`, a columnar caller (batch, over Arrow arrays) applies the same cuts in the same order; a test
compares the two on every boundary.

When no model can answer (no package, no thresholds, no score) the answer is the policy's `fallback`,
which fails closed by default: a person reviews the case, nothing is approved unseen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from steelthread_contracts.api import Decision, DecisionSource
from steelthread_contracts.package import PackageError, RunManifest, Task

BELOW_ALL_CUTS: Final = Decision.APPROVE
"""The decision for a score under every cut."""


@dataclass(frozen=True)
class Thresholds:
    """Scores at or above `review` go to a person; at or above `decline` are declined."""

    review: float
    decline: float

    def __post_init__(self) -> None:
        if not self.review <= self.decline:
            raise ValueError(f"review threshold {self.review} is above decline threshold {self.decline}")

    def cuts(self) -> tuple[tuple[float, Decision], ...]:
        """The rule as data, highest cut first: the first cut a score reaches decides."""
        return ((self.decline, Decision.DECLINE), (self.review, Decision.REVIEW))

    @classmethod
    def of(cls, manifest: RunManifest) -> Thresholds:
        """A package's thresholds; only a binary package has (and must have) them."""
        if manifest.task is not Task.BINARY or manifest.threshold is None:
            raise PackageError(f"a {manifest.task} package has no decision thresholds")
        review = manifest.review_threshold if manifest.review_threshold is not None else manifest.threshold
        return cls(review=review, decline=manifest.threshold)


@dataclass(frozen=True)
class DecisionPolicy:
    """What the use case declares about decisions: the fail-closed fallback, and the cuts for a task whose
    packages carry no thresholds (regression: e.g. a predicted delivery time above a promise is refused).

    The three decisions are generic action levels: `approve` (act on the prediction), `review` (a person
    looks), `decline` (refuse); the use case's texts say what they mean in its domain.
    """

    fallback: Decision = Decision.REVIEW
    """The answer when no model can answer; fail closed (never `approve` for a risk score)."""
    name: str = "fail-closed"
    cuts: Thresholds | None = None
    """Use-case-level cuts for tasks whose package states no thresholds (regression, multiclass)."""

    def thresholds_for(self, manifest: RunManifest) -> Thresholds | None:
        """The cuts that decide for a package: a binary package's own, otherwise the policy's."""
        if manifest.task is Task.BINARY:
            return Thresholds.of(manifest)
        return self.cuts

    def source_for(self, manifest: RunManifest) -> DecisionSource:
        """Which rule decides a scored row of this package (`decided_by` for a row with a score), for a
        columnar caller that decides many rows with one package's cuts."""
        if manifest.task is Task.BINARY:
            return DecisionSource.PACKAGE
        return DecisionSource.FALLBACK if self.cuts is None else DecisionSource.USE_CASE


DEFAULT_POLICY: Final = DecisionPolicy()


def decide(
    score: float | None, thresholds: Thresholds | None, policy: DecisionPolicy = DEFAULT_POLICY
) -> Decision:
    """The decision for one score; the policy's fallback when there is no score or no thresholds."""
    if score is None or thresholds is None or score != score:  # NaN compares unequal to itself
        return policy.fallback
    for cut, decision in thresholds.cuts():
        if score >= cut:
            return decision
    return BELOW_ALL_CUTS


def decided_by(
    score: float | None, thresholds: Thresholds | None, policy: DecisionPolicy = DEFAULT_POLICY
) -> DecisionSource:
    """Which rule `decide` applies to these arguments: the answer names it, so a caller can tell a model's
    decision from the fail-closed fallback without knowing the use case's policy."""
    if score is None or thresholds is None or score != score:
        return DecisionSource.FALLBACK
    return DecisionSource.USE_CASE if thresholds is policy.cuts else DecisionSource.PACKAGE
