"""Stage 1b: is the training frame sane enough to train on?

A model trained on a broken join or a label bug still produces plausible-looking metrics, so the frame is
checked before any fitting, and the run stops with every failed check listed rather than the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from steelthread_contracts.package import Task
from steelthread_training.config import ValidationConfig
from steelthread_training.errors import DataValidationError
from steelthread_training.frame import LABEL, MODEL_FEATURES, REQUEST_ID, TASK, TIME


@dataclass(frozen=True)
class Check:
    name: str
    value: float | str
    limit: str
    passed: bool


@dataclass(frozen=True)
class ValidationReport:
    rows: int
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def as_dict(self) -> dict[str, object]:
        return {"rows": self.rows, "passed": self.passed, "checks": [asdict(c) for c in self.checks]}


def _schema_checks(frame: pd.DataFrame, features: Sequence[str]) -> list[Check]:
    checks = []
    absent = [c for c in (*features, LABEL, TIME) if c not in frame.columns]
    checks.append(Check("schema.columns", ", ".join(absent) or "all present", "required", not absent))
    for name in features:
        if name in frame.columns:
            ok = pd.api.types.is_float_dtype(frame[name].dtype)
            checks.append(Check(f"schema.{name}", str(frame[name].dtype), "float", ok))
    if TIME in frame.columns:
        ok = isinstance(frame[TIME].dtype, pd.DatetimeTZDtype) and not frame[TIME].isna().any()
        checks.append(Check("schema.event_timestamp", str(frame[TIME].dtype), "UTC timestamps", ok))
    return checks


def binary_label_checks(label: pd.Series, config: ValidationConfig) -> list[Check]:
    """A binary label: 0/1 without missing values, a plausible positive rate, enough positives."""
    values = set(pd.unique(label.dropna()))
    ok = values <= {0, 1} and not label.isna().any()
    checks = [Check("schema.label", ",".join(map(str, sorted(values))), "0/1, no missing", ok)]
    if len(label) and pd.api.types.is_numeric_dtype(label.dtype):
        labels = label.to_numpy(dtype=np.float64)
        rate = float(np.nanmean(labels))
        lo, hi = config.label_rate
        checks.append(Check("label.rate", round(rate, 6), f"in [{lo}, {hi}]", lo <= rate <= hi))
        positives = int(np.nansum(labels))
        checks.append(
            Check(
                "label.positives",
                float(positives),
                f">= {config.min_positives}",
                positives >= config.min_positives,
            )
        )
    return checks


def validate_frame(
    frame: pd.DataFrame,
    config: ValidationConfig,
    features: Sequence[str] = MODEL_FEATURES,
    *,
    task: Task = TASK,
    objective: str | None = None,
) -> ValidationReport:
    """Every check, passed or not; `raise_if_invalid` turns a failure into a stop.

    The label's checks are the task's (`tasks.TaskKind.label_checks`); `objective` is lightgbm.objective
    (poisson and tweedie need a non-negative label).
    """
    from steelthread_training.tasks import task_kind

    checks = _schema_checks(frame, features)
    n = len(frame)
    checks.append(Check("rows", float(n), f">= {config.min_rows}", n >= config.min_rows))
    if REQUEST_ID in frame.columns:
        duplicates = int(frame[REQUEST_ID].duplicated().sum())
        checks.append(Check("duplicates.request_id", float(duplicates), "0", duplicates == 0))
    present = [c for c in features if c in frame.columns and pd.api.types.is_numeric_dtype(frame[c].dtype)]
    for name in present:
        values = frame[name].to_numpy(dtype=np.float64)
        missing = float(np.isnan(values).mean()) if n else 1.0
        checks.append(
            Check(
                f"missing.{name}",
                round(missing, 6),
                f"<= {config.max_missing_share}",
                missing <= config.max_missing_share,
            )
        )
        if np.isinf(values).any():
            checks.append(Check(f"range.{name}", "inf", "finite", False))
        if name in config.ranges:
            lo, hi = config.ranges[name]
            finite = values[np.isfinite(values)]
            outside = int(((finite < lo) | (finite > hi)).sum())
            checks.append(
                Check(f"range.{name}", float(outside), f"0 rows outside [{lo}, {hi}]", outside == 0)
            )
    if LABEL in frame.columns:
        checks.extend(task_kind(task).label_checks(frame[LABEL], config, objective=objective))
    return ValidationReport(rows=n, checks=tuple(checks))


def raise_if_invalid(report: ValidationReport) -> None:
    if report.passed:
        return
    failed = "; ".join(f"{c.name}={c.value} (want {c.limit})" for c in report.failed[:5])
    more = f" and {len(report.failed) - 5} more" if len(report.failed) > 5 else ""
    raise DataValidationError(f"training frame failed validation: {failed}{more}", report)
