"""Serving's side of reasons for each decision: load a package's booster beside its graph, and build the
answer's `explanation` for `explain=true`.

The contributions and reason codes are `steelthread_contracts.explain`'s (batch uses the same); this module
decides only what serving does around them. A package that ships no booster serves without explanations;
one whose booster is damaged (hash, features) is refused like any damaged package; an image without
LightGBM (built without the `explain` extra) serves every package and says once, in the log, that its
answers carry no explanation. Explaining costs a LightGBM call per explained row, on the request path of
that request only: answers without `explain=true` never reach this module's work.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from steelthread_contracts.api import Decision, DecisionSource
from steelthread_contracts.explain import BoosterExplainer, ExplainerUnavailableError
from steelthread_contracts.package import PackageManifest
from steelthread_contracts.usecase import ReasonText
from steelthread_serving.usecase import USE_CASE

if TYPE_CHECKING:
    from steelthread_serving.models import SkeletonModel
    from steelthread_serving.package import OnnxModel

logger = logging.getLogger(__name__)

REASONS: Final[tuple[ReasonText, ...]] = USE_CASE.reason_texts
"""The active use case's reason texts (every model feature in one)."""


def load_explainer(directory: Path, manifest: PackageManifest) -> BoosterExplainer | None:
    """The package's explainer; None when it ships no booster or LightGBM is not installed. Raises the
    contract's `PackageError` for a booster that does not belong to the package."""
    try:
        return BoosterExplainer.load(directory, manifest)
    except ExplainerUnavailableError as exc:
        logger.warning(
            "%s:%s serves without explanations: %s",
            manifest.name,
            manifest.version,
            exc,
            extra={"event": "explainer_unavailable", "model_version": manifest.version},
        )
        return None


def explanation_for(
    answering: OnnxModel | SkeletonModel,
    values: dict[str, float | None],
    decision: Decision,
    source: DecisionSource,
) -> dict[str, Any] | None:
    """The `explanation` of an answer: None when the fallback answered or the model has no explainer.

    A failure here leaves the answer without its explanation and is logged; it never fails the answer."""
    explainer: BoosterExplainer | None = getattr(answering, "explainer", None)
    if explainer is None:
        return None
    try:
        row = answering.matrix([values])[0]  # type: ignore[union-attr]  # only an OnnxModel has an explainer
        return explainer.explain(row.tolist(), decision, source, REASONS)
    except Exception as exc:  # an explanation is an extra: the answer stands without it
        logger.exception(
            "explanation failed",
            extra={"event": "explanation_failed", "model_version": answering.version, "error": str(exc)},
        )
        return None
