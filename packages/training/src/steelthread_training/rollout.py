"""One step of a canary (or an A/B test) decided from its traffic: advance, hold, abort or halt.

The canary is an experiment whose control is `stable` (the previous champion, answering everyone else) and
whose treatment is the new champion, at the canary fraction. Each step reads the requests each version
answered (`steelthread_monitoring.cohort.arms`) and applies the plan (`steelthread_training.experiment`):

- units per arm (distinct entity keys) against the planned fraction: a sample-ratio mismatch **halts**;
- per-version guardrails from the log: the share of degraded (fallback) answers may not rise by more than
  the plan allows; a breach **aborts**;
- the primary metric, the per-request loss against the labels that have arrived (binary: squared error of
  the probability, the Brier score's terms; regression: absolute error), watched by the always-valid
  mSPRT over chronological looks: a significantly worse treatment **aborts**, a better one may **advance**
  early;
- otherwise **hold**; at the end of the planned observation (`final`) no evidence of harm **advances**.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from steelthread_contracts.package import Task
from steelthread_training.experiment import Check, Outcome, Plan, check

StepAction = Literal["advance", "hold", "abort", "halt"]
LOOKS: Final = 20
"""Chronological looks the labelled rows are cut into for the running always-valid p-value."""
DEGRADED: Final = "degraded_share"
"""The guardrail the log itself can measure per version."""


ROW_LOSSES: Final[dict[Task, tuple[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]]] = {
    Task.BINARY: ("brier", lambda score, label: np.asarray((score - label) ** 2)),
    Task.REGRESSION: ("absolute_error", lambda score, label: np.asarray(np.abs(score - label))),
}
"""Per task, the per-request loss a rollout watches and the metric it is a term of: the squared error of
the probability (binary, the Brier score's terms) and the absolute error (regression)."""


def _row_loss(task: Task | str) -> tuple[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    found = ROW_LOSSES.get(Task(task))
    if found is None:
        raise ValueError(f"no per-request loss for a {task} model yet (binary and regression)")
    return found


def row_loss(task: Task | str, score: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Per-request loss of `task` (`ROW_LOSSES`)."""
    return _row_loss(task)[1](np.asarray(score, float), np.asarray(label, float))


def primary_metric(task: Task | str) -> str:
    """The metric `row_loss` is a term of, which a rollout of `task` is planned on."""
    return _row_loss(task)[0]


@dataclass(frozen=True)
class Step:
    action: StepAction
    reason: str
    check: Check
    labelled: dict[str, int]

    @property
    def exit_code(self) -> int:
        """0 advance, 1 abort, 3 halt (sample-ratio mismatch), 4 hold (not decided yet)."""
        return {"advance": 0, "abort": 1, "halt": 3, "hold": 4}[self.action]


def _looks(rows: pd.DataFrame, plan: Plan) -> list[tuple[float, float]]:
    """(difference, variance) after each of LOOKS chronological cuts of the labelled rows, the whole set
    excluded (`check` adds it as the last look)."""
    out: list[tuple[float, float]] = []
    cuts = np.linspace(0, len(rows), LOOKS + 1)[1:-1].astype(int)
    for cut in cuts:
        part = rows.iloc[:cut]
        c = part.loc[part["arm"] == plan.control, "loss"].to_numpy()
        t = part.loc[part["arm"] == plan.treatment, "loss"].to_numpy()
        if len(c) > 1 and len(t) > 1:
            out.append((float(t.mean() - c.mean()), float(t.var(ddof=1) / len(t) + c.var(ddof=1) / len(c))))
    return out


def step(plan: Plan, task: Task | str, traffic: pd.DataFrame, *, final: bool = False) -> Step:
    """Decide one step from `traffic` (columns arm, entity_key, score, label, degraded, logged_at)."""
    rows = traffic[traffic["arm"].isin([plan.control, plan.treatment])]
    units = rows.groupby("arm")["entity_key"].nunique()
    labelled = rows[rows["label"].notna()].sort_values("logged_at", kind="stable").copy()
    labelled["loss"] = row_loss(task, labelled["score"].to_numpy(), labelled["label"].to_numpy())
    control = Outcome(labelled.loc[labelled["arm"] == plan.control, "loss"].to_numpy())
    treatment = Outcome(labelled.loc[labelled["arm"] == plan.treatment, "loss"].to_numpy())
    rails: dict[str, tuple[float, float]] = {}
    if "degraded" in rows.columns:
        shares = rows.groupby("arm")["degraded"].mean()
        rails[DEGRADED] = (float(shares.get(plan.control, np.nan)), float(shares.get(plan.treatment, np.nan)))
    result = check(
        plan,
        control,
        treatment,
        control_units=int(units.get(plan.control, 0)),
        treatment_units=int(units.get(plan.treatment, 0)),
        looks=_looks(labelled, plan),
        guardrails=rails,
    )
    counts = {"control": control.n, "treatment": treatment.n}
    if result.action == "halt" and result.sample_ratio.mismatch:
        return Step("halt", result.reason, result, counts)
    if result.action in {"halt", "stop_treatment_worse"}:
        return Step("abort", result.reason, result, counts)
    if result.action == "stop_treatment_better":
        return Step("advance", result.reason, result, counts)
    if final or result.action == "no_difference":
        why = f"no evidence of harm at the end of the observation ({result.reason})"
        return Step("advance", why, result, counts)
    return Step("hold", result.reason, result, counts)
