"""Reasons for each decision: the answering model's per-feature contributions, and the reason codes of an
adverse decision. Serving and batch both explain through this module, so the same package, row and use
case give the same reasons online and offline.

Contributions are LightGBM's own TreeSHAP (`Booster.predict(pred_contrib=True)`), computed from the
booster a package ships beside its graph (`package.BOOSTER_FILE`): for each row, one value per feature
plus the expected value, summing to the model's raw output (its margin). The ONNX graph still gives the
answered score; the booster is used for explanations only, on the same float32 values the graph saw.

An adverse decision is one the model made (not the fail-closed fallback) that is not `approve`. The
decision policy refers or declines scores at or above its cuts (`decision.Thresholds.cuts`), and every
objective's link is increasing, so a factor pushed towards the adverse outcome exactly when its
contribution is positive. `reason_codes` adds the contributions of each reason's features (a category's
one-hot columns are one factor), keeps the positive ones and answers the largest four.

LightGBM (and numpy) load only when a package with a booster is explained: this module's import needs
pydantic alone, so a process that only ranks reasons never loads them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from steelthread_contracts.api import Decision, DecisionSource
from steelthread_contracts.package import BOOSTER_FILE, PackageError, RunManifest, ships, verify_files
from steelthread_contracts.usecase import ReasonText

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

MAX_REASONS: Final = 4
"""At most this many reasons per decision: what an adverse-action notice states (Regulation B's model
form lists four)."""
SCALES: Final = {
    "binary": "log_odds",
    "regression": "score",
    "regression_l1": "score",
    "huber": "score",
    "fair": "score",
    "quantile": "score",
    "mape": "score",
    "poisson": "log_score",
    "tweedie": "log_score",
    "gamma": "log_score",
}
"""LightGBM objective -> the units of its raw output: log-odds, the score itself, or the log of the score
(a log-link objective). Any other objective (multiclass) is not explained yet."""


class ExplainerUnavailableError(RuntimeError):
    """The package ships a booster, but this environment cannot load it (LightGBM is not installed): the
    package still scores, its answers carry no explanation."""


@dataclass(frozen=True)
class Reason:
    """One ranked reason: the use case's code and text, and its features' summed contribution."""

    code: str
    text: str
    contribution: float
    features: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        """The answer's `ReasonCode` shape."""
        return {
            "code": self.code,
            "text": self.text,
            "contribution": self.contribution,
            "features": list(self.features),
        }


def is_adverse(decision: Decision, source: DecisionSource) -> bool:
    """A decision a notice must explain: the model referred or declined (the fallback decided nothing)."""
    return source is not DecisionSource.FALLBACK and decision is not Decision.APPROVE


def reason_codes(
    contributions: Mapping[str, float], reasons: Sequence[ReasonText], limit: int = MAX_REASONS
) -> list[Reason]:
    """The reasons whose features together pushed the score up (towards the adverse decision), largest
    first, at most `limit`; ties keep the use case's order. A reason none of whose features is in
    `contributions` is skipped."""
    ranked = []
    for position, reason in enumerate(reasons):
        present = [f for f in reason.features if f in contributions]
        if not present:
            continue
        total = math.fsum(contributions[f] for f in present)
        if total > 0.0:
            ranked.append((-total, position, Reason(reason.code, reason.text, total, reason.features)))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [reason for _, _, reason in ranked[:limit]]


def explainable(model_text: str) -> bool:
    """Whether a booster's objective has contributions this module explains (a package ships only
    such a booster; a multiclass model is served without explanations)."""
    return objective_of(model_text) in SCALES


def objective_of(model_text: str) -> str:
    """The objective's name from a LightGBM model file (`objective=binary sigmoid:1` -> `binary`)."""
    for line in model_text.splitlines():
        if line.startswith("objective="):
            return line.removeprefix("objective=").split(" ", 1)[0]
        if line.startswith("Tree="):
            break
    raise PackageError(f"{BOOSTER_FILE} names no objective")


@dataclass(frozen=True)
class BoosterExplainer:
    """A package's booster, loaded to compute contributions (never to score)."""

    booster: Any
    """lightgbm.Booster."""
    feature_names: tuple[str, ...]
    scale: str

    @classmethod
    def load(cls, folder: Path, manifest: RunManifest) -> BoosterExplainer | None:
        """The explainer of the package in `folder`, or None when the package ships no booster.

        The booster file is checked against its recorded sha256 and must name the package's features in
        the package's order; a package that cannot be explained raises `PackageError` with the reason.
        LightGBM missing from the environment raises `ExplainerUnavailableError` (the `explain` extra installs
        it).
        """
        if not ships(manifest, BOOSTER_FILE):
            return None
        verify_files(folder, manifest, [BOOSTER_FILE])
        text = (folder / BOOSTER_FILE).read_text()
        objective = objective_of(text)
        if objective not in SCALES:
            raise PackageError(f"{BOOSTER_FILE}: objective {objective!r} is not explained")
        try:
            import lightgbm as lgb
        except ImportError:
            raise ExplainerUnavailableError(
                "the package ships a booster but lightgbm is not installed (install the `explain` extra)"
            ) from None
        try:
            booster = lgb.Booster(model_str=text)
        except lgb.basic.LightGBMError as exc:
            raise PackageError(f"{BOOSTER_FILE} does not load: {str(exc)[:160]}") from None
        names = tuple(booster.feature_name())
        if list(names) != list(manifest.feature_names):
            raise PackageError(f"{BOOSTER_FILE} names other features than package.json (or another order)")
        return cls(booster=booster, feature_names=names, scale=SCALES[objective])

    def contributions(self, matrix: NDArray[np.float32] | NDArray[np.float64]) -> NDArray[np.float64]:
        """[N, F + 1]: each feature's contribution per row, then the expected value (LightGBM's column
        order); a row's sum is the booster's raw output for it. `matrix` holds the values the graph saw
        (float32, NaN for missing); they are widened exactly, so the trees split them as the graph did."""
        import numpy as np

        # One thread: a request's row is tiny, and OpenMP's pool spinning beside the server's event loop cost
        # more than the trees themselves (bench/bench_explain.py).
        out = self.booster.predict(np.asarray(matrix, dtype=np.float64), pred_contrib=True, num_threads=1)
        return np.asarray(out, dtype=np.float64)

    def explain(
        self,
        row: Sequence[float],
        decision: Decision,
        source: DecisionSource,
        reasons: Sequence[ReasonText],
    ) -> dict[str, Any]:
        """The answer's `Explanation` for one row of feature values in the package's order."""
        import numpy as np

        (values,) = self.contributions(np.asarray([row], dtype=np.float32))
        return explanation(values, self.feature_names, self.scale, decision, source, reasons)


def explanation(
    values: Sequence[float],
    feature_names: Sequence[str],
    scale: str,
    decision: Decision,
    source: DecisionSource,
    reasons: Sequence[ReasonText],
) -> dict[str, Any]:
    """The `Explanation` of one row from its contribution vector (features, then the expected value)."""
    if len(values) != len(feature_names) + 1:
        raise ValueError(f"{len(values)} contributions for {len(feature_names)} features (+1 expected value)")
    contributions = {name: float(v) for name, v in zip(feature_names, values, strict=False)}
    base = float(values[-1])
    ranked = reason_codes(contributions, reasons) if is_adverse(decision, source) else []
    return {
        "scale": scale,
        "base_value": base,
        "margin": math.fsum([*contributions.values(), base]),
        "contributions": contributions,
        "reasons": [r.as_json() for r in ranked],
    }
