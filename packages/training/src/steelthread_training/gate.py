"""Stage 5: may this model become a challenger?

Every check records its value, threshold and comparison, so the stored verdict (gate.json) answers "why
was this model allowed (or refused)" without re-running anything. Promotion re-reads that artifact.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from steelthread_training.config import GateConfig
from steelthread_training.errors import CorruptArtifactError
from steelthread_training.evaluation import Evaluation
from steelthread_training.export import ParityReport

Op = Literal[">=", "<=", ">", "in"]
GATE_VERSION = 1
NOT_APPLICABLE = "fairness: not applicable (the use case declares no protected attribute)"


@dataclass(frozen=True)
class GateCheck:
    name: str
    value: float | None
    op: Op
    threshold: float
    passed: bool
    note: str = ""
    upper: float | None = None
    """Upper bound of an `in` check ([threshold, upper])."""

    def rule(self) -> str:
        return (
            f"in [{self.threshold:g}, {self.upper:g}]" if self.op == "in" else f"{self.op} {self.threshold:g}"
        )


@dataclass(frozen=True)
class ChampionComparison:
    """The current champion scored on this run's test set (None fields: there is no champion)."""

    version: str | None
    roc_auc: float | None
    note: str


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    checks: tuple[GateCheck, ...]
    champion: ChampionComparison
    version: int = GATE_VERSION
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> list[GateCheck]:
        return [c for c in self.checks if not c.passed]

    def as_dict(self) -> dict[str, Any]:
        return {
            "gate_version": self.version,
            "passed": self.passed,
            "checks": [asdict(c) for c in self.checks],
            "champion": asdict(self.champion),
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        return json.dumps(_finite(self.as_dict()), indent=2, sort_keys=False) + "\n"


def _finite(value: Any) -> Any:
    """JSON has no NaN: a metric that could not be computed is stored as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def check(
    name: str, value: float | None, op: Op, threshold: float, note: str = "", upper: float | None = None
) -> GateCheck:
    """A missing or non-finite value never passes."""
    ok = value is not None and math.isfinite(value)
    if ok and value is not None:
        if op == "in":
            ok = threshold <= value <= (math.inf if upper is None else upper)
        else:
            ok = {">=": value >= threshold, "<=": value <= threshold, ">": value > threshold}[op]
    return GateCheck(
        name=name, value=value, op=op, threshold=threshold, passed=bool(ok), note=note, upper=upper
    )


def run_gate(
    candidate: Evaluation,
    baseline: Evaluation,
    champion: ChampionComparison,
    config: GateConfig,
    parity: ParityReport | None = None,
) -> GateVerdict:
    m = candidate.metrics
    checks = [
        check("roc_auc", m.roc_auc, ">=", config.min_roc_auc),
        check("pr_auc", m.pr_auc, ">=", config.min_pr_auc),
        check("brier", m.brier, "<=", config.max_brier),
        check(
            "gain_over_baseline.roc_auc",
            m.roc_auc - baseline.metrics.roc_auc,
            ">",
            config.min_gain_over_baseline,
            note=f"baseline roc_auc {baseline.metrics.roc_auc:.4f}",
        ),
    ]
    for s in candidate.slices:
        if s.gated:
            checks.append(
                check(f"slice.{s.column}={s.value}.roc_auc", s.roc_auc, ">=", config.min_slice_roc_auc)
            )
    fair = candidate.fairness
    notes: list[str] = []
    if candidate.protected is None:
        notes.append(NOT_APPLICABLE)
    elif fair is None:
        checks.append(
            check("fairness.approval_ratio", None, ">=", config.min_fairness_ratio, "no group column")
        )
    else:
        small = [g for g, n in fair.rows.items() if n < config.fairness_min_group_rows]
        note = f"groups under {config.fairness_min_group_rows} rows: {', '.join(small)}" if small else ""
        rates = ", ".join(f"{g}={r:.3f}" for g, r in fair.approval_rates.items())
        value = None if small or len(fair.rows) < 2 else fair.ratio
        checks.append(
            check(
                f"fairness.{fair.column}.approval_ratio",
                value,
                ">=",
                config.min_fairness_ratio,
                note=note or f"approval rates {rates}",
            )
        )
    if champion.version is None:
        checks.append(
            GateCheck("champion.roc_auc_delta", None, ">=", -config.champion_tolerance, True, champion.note)
        )
    else:
        delta = None if champion.roc_auc is None else m.roc_auc - champion.roc_auc
        checks.append(
            check("champion.roc_auc_delta", delta, ">=", -config.champion_tolerance, note=champion.note)
        )
    if parity is not None:
        checks.append(
            check(
                "parity.quantile_abs_diff",
                parity.quantile_abs_diff,
                "<=",
                parity.quantile_tolerance,
                note=(
                    f"p{parity.quantile * 100:g} over {parity.rows} test rows; max {parity.max_abs_diff:.3g}"
                ),
            )
        )
        checks.append(
            check(
                "parity.rows_over_tolerance",
                float(parity.rows_over_tolerance),
                "<=",
                float(parity.allowed_rows_over),
                note=f"rows with |diff| > {parity.row_tolerance:g}",
            )
        )
        checks.append(
            GateCheck(
                "parity.passed", float(parity.passed), ">=", 1.0, parity.passed, "; ".join(parity.reasons)
            )
        )
    return GateVerdict(
        passed=all(c.passed for c in checks), checks=tuple(checks), champion=champion, notes=tuple(notes)
    )


def read_verdict(text: str, source: str) -> dict[str, Any]:
    """Parse a stored gate.json; anything malformed is a corrupt artifact, never a pass."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CorruptArtifactError(f"gate verdict {source} is not valid JSON ({exc})") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("passed"), bool)
        or not isinstance(data.get("checks"), list)
    ):
        raise CorruptArtifactError(f"gate verdict {source} lacks 'passed' and 'checks'")
    recomputed = all(isinstance(c, dict) and c.get("passed") is True for c in data["checks"])
    if data["passed"] and not recomputed:
        raise CorruptArtifactError(f"gate verdict {source} says passed but a check failed")
    return data
