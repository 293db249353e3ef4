"""A/B experiments between two model versions, planned before they start and judged by their plan.

The plan fixes, in advance, everything a result could otherwise be tuned with afterwards: the unit (the
entity key, hashed with the experiment's salt, so an entity sticks to one arm), the allocation, the primary
metric and its guardrails, the minimum detectable effect, alpha and power, the sample size that follows
(statsmodels' power functions: `TTestIndPower` for a mean per-request loss, `NormalIndPower` with Cohen's h
for a rate) and the longest the experiment may run. It is written as JSON beside the promotion audit log.

While it runs, `check` looks at the counts and the outcomes:

- sample-ratio mismatch: the units per arm against the planned allocation (`scipy.stats.chisquare`); below
  p = 0.001 the experiment halts, because a broken split invalidates every other number;
- early stopping only with an always-valid test: the mixture sequential probability ratio test (mSPRT,
  Johari, Pekelis and Walsh, "Always valid inference", 2017/2022) on the difference of means with a normal
  mixture of variance tau^2 = MDE^2, whose p-value may be read after every batch without inflating the false
  alarm rate; otherwise the verdict waits for the planned sample size (fixed horizon, Welch's t-test).

The closed form of the mSPRT is a few lines; confseq (last released 2023, a C++ build) and spotify-confidence
(plotting dependencies) were not worth their weight for it (ADR 0016). Decisions are appended, with their
evidence, to `experiments.jsonl` beside the promotion audit log.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
from scipy import stats

from steelthread_training.errors import TrainingError

SRM_ALPHA: Final = 0.001
"""Sample-ratio mismatch halts the experiment below this p-value (the field's usual bar)."""
EXPERIMENTS_DIR: Final = "experiments"
DECISIONS_FILE: Final = "experiments.jsonl"
MetricKind = Literal["mean", "proportion"]
Action = Literal["halt", "stop_treatment_worse", "stop_treatment_better", "continue", "no_difference"]


class ExperimentError(TrainingError):
    """A plan that cannot be met or an experiment file that cannot be read."""

    exit_code = 10


@dataclass(frozen=True)
class Guardrail:
    """A metric that must not get worse by more than `max_increase` (absolute) in the treatment arm."""

    metric: str
    max_increase: float


@dataclass(frozen=True)
class Plan:
    name: str
    control: str
    treatment: str
    unit: str
    salt: str
    treatment_share: float
    primary_metric: str
    metric_kind: MetricKind
    baseline: float
    """mean: the per-unit standard deviation of the metric; proportion: the control's rate."""
    mde: float
    """The smallest absolute difference worth detecting, in the metric's units."""
    alpha: float
    power: float
    control_units: int
    treatment_units: int
    daily_units: int
    max_days: int
    days: int
    guardrails: tuple[Guardrail, ...] = ()
    created_at: str = ""

    @property
    def total_units(self) -> int:
        return self.control_units + self.treatment_units

    def document(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_document(data: dict[str, Any]) -> Plan:
        try:
            guardrails = tuple(Guardrail(**g) for g in data.get("guardrails", ()))
            return Plan(**{**data, "guardrails": guardrails})
        except TypeError as exc:
            raise ExperimentError(f"experiment plan is malformed: {exc}") from None


def effect_size(kind: MetricKind, baseline: float, mde: float) -> float:
    """Standardised effect: Cohen's d (mde / sd) for a mean, Cohen's h for a rate."""
    if kind == "mean":
        if baseline <= 0:
            raise ExperimentError("the metric's standard deviation must be > 0")
        return mde / baseline
    from statsmodels.stats.proportion import proportion_effectsize

    if not 0 < baseline < 1 or not 0 < baseline + mde < 1:
        raise ExperimentError("a rate and the rate plus the MDE must be inside (0, 1)")
    return float(abs(proportion_effectsize(baseline + mde, baseline)))


def sample_size(
    kind: MetricKind, baseline: float, mde: float, alpha: float, power: float, treatment_share: float
) -> tuple[int, int]:
    """(control, treatment) units for a two-sided test at `alpha` with `power` (statsmodels)."""
    from statsmodels.stats.power import NormalIndPower, TTestIndPower

    if not 0 < treatment_share < 1:
        raise ExperimentError("the treatment share must be inside (0, 1)")
    ratio = treatment_share / (1 - treatment_share)
    solver = TTestIndPower() if kind == "mean" else NormalIndPower()
    control = solver.solve_power(
        effect_size=effect_size(kind, baseline, abs(mde)), alpha=alpha, power=power, ratio=ratio
    )
    n1 = math.ceil(float(control))
    return n1, math.ceil(n1 * ratio)


def make_plan(
    *,
    name: str,
    control: str,
    treatment: str,
    primary_metric: str,
    metric_kind: MetricKind,
    baseline: float,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    treatment_share: float = 0.5,
    daily_units: int,
    max_days: int,
    guardrails: tuple[Guardrail, ...] = (),
    unit: str = "entity_key",
) -> Plan:
    """The plan, with its sample size; refused when the traffic cannot reach it within `max_days`."""
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ExperimentError("alpha and power must be inside (0, 1)")
    if mde == 0:
        raise ExperimentError("the minimum detectable effect must not be 0")
    n_control, n_treatment = sample_size(metric_kind, baseline, mde, alpha, power, treatment_share)
    days = math.ceil((n_control + n_treatment) / daily_units) if daily_units > 0 else math.inf
    if days > max_days:
        raise ExperimentError(
            f"{n_control + n_treatment} units are needed ({n_control} control, {n_treatment} treatment) "
            f"and {daily_units} a day arrive: {days} days, more than the {max_days} allowed; plan a larger "
            "MDE, more traffic or a longer maximum"
        )
    salt = hashlib.sha256(f"{name}:{control}:{treatment}".encode()).hexdigest()[:16]
    return Plan(
        name=name,
        control=control,
        treatment=treatment,
        unit=unit,
        salt=salt,
        treatment_share=treatment_share,
        primary_metric=primary_metric,
        metric_kind=metric_kind,
        baseline=baseline,
        mde=mde,
        alpha=alpha,
        power=power,
        control_units=n_control,
        treatment_units=n_treatment,
        daily_units=daily_units,
        max_days=max_days,
        days=int(days),
        guardrails=guardrails,
        created_at=datetime.now(UTC).isoformat(),
    )


def assign(keys: np.ndarray, salt: str, treatment_share: float) -> np.ndarray:
    """True where a unit is in the treatment arm: sha256(salt:key) as a uniform number, so assignment is
    sticky per entity and independent between experiments (salts differ)."""
    cut = int(treatment_share * 2**32)
    return np.fromiter(
        (int.from_bytes(hashlib.sha256(f"{salt}:{int(k)}".encode()).digest()[:4], "big") < cut for k in keys),
        dtype=bool,
        count=len(keys),
    )


# --- checks while it runs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleRatio:
    control: int
    treatment: int
    expected_share: float
    p_value: float

    @property
    def mismatch(self) -> bool:
        return self.p_value < SRM_ALPHA


def sample_ratio(control: int, treatment: int, treatment_share: float) -> SampleRatio:
    """Chi-squared goodness of fit of the units per arm to the planned allocation."""
    total = control + treatment
    if total == 0:
        return SampleRatio(control, treatment, treatment_share, 1.0)
    expected = [total * (1 - treatment_share), total * treatment_share]
    p = float(stats.chisquare([control, treatment], f_exp=expected).pvalue)
    return SampleRatio(control, treatment, treatment_share, p)


def msprt_p_values(diff: np.ndarray, variance: np.ndarray, tau2: float) -> np.ndarray:
    """Always-valid p-values of the normal-mixture SPRT for H0: difference 0, at each look (last axis).

    `diff` is the estimated difference of means at each look, `variance` its variance (sigma_t^2 / n_t +
    sigma_c^2 / n_c); the mixture over the true difference is N(0, tau2). The likelihood ratio is
    sqrt(V / (V + tau2)) * exp(tau2 diff^2 / (2 V (V + tau2))); the p-value is the running minimum of
    1 / ratio, capped at 1. Vectorised: any leading axes are independent experiments.
    """
    v = np.maximum(np.asarray(variance, float), 1e-300)
    d = np.asarray(diff, float)
    log_ratio = 0.5 * np.log(v / (v + tau2)) + tau2 * d**2 / (2.0 * v * (v + tau2))
    p = np.minimum(1.0, np.exp(-log_ratio))
    return np.asarray(np.minimum.accumulate(np.where(np.isfinite(p), p, 1.0), axis=-1))


@dataclass(frozen=True)
class Outcome:
    """One arm's per-unit values of the primary metric so far."""

    values: np.ndarray

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(self.values.mean()) if self.n else math.nan

    @property
    def variance(self) -> float:
        return float(self.values.var(ddof=1)) if self.n > 1 else math.nan


@dataclass(frozen=True)
class Check:
    action: Action
    reason: str
    sample_ratio: SampleRatio
    control_mean: float
    treatment_mean: float
    difference: float
    always_valid_p: float
    fixed_horizon_p: float | None
    horizon_reached: bool
    guardrails: dict[str, dict[str, float | bool]] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return asdict(self)


def check(
    plan: Plan,
    control: Outcome,
    treatment: Outcome,
    *,
    control_units: int,
    treatment_units: int,
    looks: list[tuple[float, float]] | None = None,
    guardrails: dict[str, tuple[float, float]] | None = None,
    lower_is_better: bool = True,
) -> Check:
    """What the experiment's data says now.

    Halt on a sample-ratio mismatch or a breached guardrail; stop early only when the mSPRT's always-valid
    p-value is below alpha; at the planned sample size decide by the fixed-horizon test; else continue.
    `looks` are earlier (difference, variance) pairs, so the always-valid p-value is the running minimum over
    every look taken; `guardrails` maps a plan guardrail's metric to its (control, treatment) values.
    """
    srm = sample_ratio(control_units, treatment_units, plan.treatment_share)
    diff = treatment.mean - control.mean
    variance = treatment.variance / max(treatment.n, 1) + control.variance / max(control.n, 1)
    history = [*(looks or []), (diff, variance)]
    usable = [(d, v) for d, v in history if math.isfinite(d) and math.isfinite(v)]
    p_seq = (
        float(
            msprt_p_values(np.array([d for d, _ in usable]), np.array([v for _, v in usable]), plan.mde**2)[
                -1
            ]
        )
        if usable
        else 1.0
    )
    reached = control.n >= plan.control_units and treatment.n >= plan.treatment_units
    fixed = (
        float(stats.ttest_ind(treatment.values, control.values, equal_var=False).pvalue)
        if reached and control.n > 1 and treatment.n > 1
        else None
    )
    rails: dict[str, dict[str, float | bool]] = {}
    for rail in plan.guardrails:
        c, t = (guardrails or {}).get(rail.metric, (math.nan, math.nan))
        ok = math.isfinite(c) and math.isfinite(t) and t - c <= rail.max_increase
        rails[rail.metric] = {"control": c, "treatment": t, "max_increase": rail.max_increase, "passed": ok}
    worse = diff > 0 if lower_is_better else diff < 0

    def verdict(action: Action, reason: str) -> Check:
        return Check(action, reason, srm, control.mean, treatment.mean, diff, p_seq, fixed, reached, rails)

    if srm.mismatch:
        return verdict(
            "halt",
            f"sample-ratio mismatch: {control_units} control / {treatment_units} treatment units for a "
            f"planned treatment share of {plan.treatment_share:g} (chi-squared p = {srm.p_value:.2g} < "
            f"{SRM_ALPHA:g})",
        )
    broken = [m for m, r in rails.items() if not r["passed"]]
    if broken:
        return verdict("halt", f"guardrail breached: {', '.join(broken)}")
    stop: Action = "stop_treatment_worse" if worse else "stop_treatment_better"
    if p_seq < plan.alpha:
        why = f"always-valid p = {p_seq:.3g} < alpha {plan.alpha:g} (mSPRT), difference {diff:+.4g}"
        return verdict(stop, why)
    if fixed is not None:
        if fixed < plan.alpha:
            return verdict(stop, f"fixed horizon reached: Welch p = {fixed:.3g}")
        return verdict("no_difference", f"fixed horizon reached: Welch p = {fixed:.3g} >= {plan.alpha:g}")
    return verdict(
        "continue",
        f"{control.n}/{plan.control_units} control and {treatment.n}/{plan.treatment_units} treatment "
        f"units; always-valid p = {p_seq:.3g}",
    )


# --- files ---------------------------------------------------------------------------------------------


def plan_path(audit_dir: Path, name: str) -> Path:
    if not name or "/" in name or name.startswith("."):
        raise ExperimentError(f"experiment name {name!r} must be a plain file name")
    return audit_dir / EXPERIMENTS_DIR / f"{name}.json"


def write_plan(audit_dir: Path, plan: Plan) -> Path:
    """Write the plan once: a plan is fixed in advance, so an existing one is never overwritten."""
    path = plan_path(audit_dir, plan.name)
    if path.exists():
        raise ExperimentError(f"experiment {plan.name!r} already has a plan ({path}); plans are not edited")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan.document(), indent=2) + "\n")
    return path


def read_plan(audit_dir: Path, name: str) -> Plan:
    path = plan_path(audit_dir, name)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ExperimentError(
            f"no plan for experiment {name!r} ({path}); run `steelthread-experiment plan`"
        ) from None
    except ValueError as exc:
        raise ExperimentError(f"experiment plan {path} is not valid JSON ({exc})") from None
    return Plan.from_document(data)


def append_decision(audit_dir: Path, record: dict[str, Any]) -> Path:
    """Append one decision, with its evidence, to experiments.jsonl (append-only, fsynced)."""
    audit_dir.mkdir(parents=True, exist_ok=True)
    path = audit_dir / DECISIONS_FILE
    line = (
        json.dumps({"at": datetime.now(UTC).isoformat(), **record}, default=str, sort_keys=True) + "\n"
    ).encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def read_decisions(audit_dir: Path, name: str | None = None) -> list[dict[str, Any]]:
    path = audit_dir / DECISIONS_FILE
    if not path.exists():
        return []
    out = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise ExperimentError(f"{path}:{number} is not valid JSON") from None
        if name is None or record.get("experiment") == name:
            out.append(record)
    return out
