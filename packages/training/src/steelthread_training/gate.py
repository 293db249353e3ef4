"""Stage 5: may this model become a challenger?

The task's own checks (floors, gain over the baseline, slices, fairness) come from
`steelthread_training.tasks`; the champion comparison on the task's primary metric and ONNX parity are
shared. Fairness is checked only when the use case declares a protected attribute.

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
from steelthread_training.evaluation import Evaluation, Fairness, GroupReport, SliceMetric
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
    value: float | None
    """The champion's value of `metric` on these rows (None: no champion, or it could not be scored)."""
    note: str
    metric: str = "roc_auc"
    """The task's primary metric: roc_auc (binary), mae (regression), macro_f1 (multiclass)."""


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


def fairness_check(
    name: str, value: float | None, op: Op, threshold: float, report: GroupReport, min_rows: int, values: str
) -> GateCheck:
    """A fairness check that fails (value None) when a group is too small to measure or there is one group."""
    small = [g for g, n in report.rows.items() if n < min_rows]
    note = f"groups under {min_rows} rows: {', '.join(small)}" if small else values
    measurable = not small and len(report.rows) >= 2
    return check(name, value if measurable else None, op, threshold, note=note)


def binary_checks(
    candidate: Evaluation, baseline: Evaluation, config: GateConfig
) -> tuple[list[GateCheck], list[str]]:
    """The binary task's floors: ROC AUC, PR AUC, Brier, gain over the baseline, slices, approval ratio."""
    m, _ = candidate.binary()
    b, _ = baseline.binary()
    checks = [
        check("roc_auc", m.roc_auc, ">=", config.min_roc_auc),
        check("pr_auc", m.pr_auc, ">=", config.min_pr_auc),
        check("brier", m.brier, "<=", config.max_brier),
        check(
            "gain_over_baseline.roc_auc",
            m.roc_auc - b.roc_auc,
            ">",
            config.min_gain_over_baseline,
            note=f"baseline roc_auc {b.roc_auc:.4f}",
        ),
    ]
    for s in candidate.slices:
        if s.gated and isinstance(s, SliceMetric):
            checks.append(
                check(f"slice.{s.column}={s.value}.roc_auc", s.roc_auc, ">=", config.min_slice_roc_auc)
            )
    fair = candidate.fairness
    notes: list[str] = []
    if candidate.protected is None:
        notes.append(NOT_APPLICABLE)
    elif not isinstance(fair, Fairness):
        checks.append(
            check("fairness.approval_ratio", None, ">=", config.min_fairness_ratio, "no group column")
        )
    else:
        rates = ", ".join(f"{g}={r:.3f}" for g, r in fair.approval_rates.items())
        checks.append(
            fairness_check(
                f"fairness.{fair.column}.approval_ratio",
                fair.ratio,
                ">=",
                config.min_fairness_ratio,
                fair,
                config.fairness_min_group_rows,
                f"approval rates {rates}",
            )
        )
    return checks, notes


def champion_check(
    metric: str,
    value: float,
    champion: ChampionComparison,
    tolerance: float,
    *,
    higher_is_better: bool,
    relative: bool = False,
) -> GateCheck:
    """Not worse than the champion on the same test rows, by at most `tolerance`.

    The value is the candidate's gain over the champion in the direction that is better (champion minus
    candidate for a loss such as MAE), divided by the champion's value when `relative`; it must be
    >= -tolerance. With no champion the check passes and says so.
    """
    name = f"champion.{metric}_{'relative_gain' if relative else 'delta'}"
    if champion.version is None:
        return GateCheck(name, None, ">=", -tolerance, True, champion.note)
    if champion.value is None or champion.metric != metric:
        why = (
            champion.note if champion.metric == metric else f"{champion.note} (compared on {champion.metric})"
        )
        return check(name, None, ">=", -tolerance, note=why)
    gain = value - champion.value if higher_is_better else champion.value - value
    if relative:
        gain = gain / abs(champion.value) if champion.value else math.nan
    return check(name, gain, ">=", -tolerance, note=champion.note)


def parity_checks(parity: ParityReport) -> list[GateCheck]:
    scale = "relative " if parity.scale == "relative" else ""
    return [
        check(
            "parity.quantile_abs_diff",
            parity.quantile_abs_diff,
            "<=",
            parity.quantile_tolerance,
            note=(
                f"{scale}p{parity.quantile * 100:g} over {parity.rows} test rows; "
                f"max {parity.max_abs_diff:.3g}"
            ),
        ),
        check(
            "parity.rows_over_tolerance",
            float(parity.rows_over_tolerance),
            "<=",
            float(parity.allowed_rows_over),
            note=f"rows with {scale}|diff| > {parity.row_tolerance:g}",
        ),
        GateCheck("parity.passed", float(parity.passed), ">=", 1.0, parity.passed, "; ".join(parity.reasons)),
    ]


def run_gate(
    candidate: Evaluation,
    baseline: Evaluation,
    champion: ChampionComparison,
    config: GateConfig,
    parity: ParityReport | None = None,
) -> GateVerdict:
    """Every check of the candidate's task (`tasks.task_kind(candidate.task)`), the champion, and parity."""
    from steelthread_training.tasks import task_kind

    kind = task_kind(candidate.task)
    checks, notes = kind.gate_checks(candidate, baseline, config)
    checks.append(kind.champion_check(candidate, champion, config))
    if parity is not None:
        checks.extend(parity_checks(parity))
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
