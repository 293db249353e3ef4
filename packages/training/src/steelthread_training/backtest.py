"""Staleness backtest (`steelthread-train backtest`): how fast does a model decay, and when must it retire?

A model is trained at time T on what a retrain at T would have had: the events before T whose label had
arrived by T (labels as they arrive, not as they are finally known). It then scores every later window of
`window_days` of the history, each with its final labels, and the task's primary metric per window is the
decay curve (metric against model age). The **alert age** is the age of the first window whose metric is
worse than the gate's floor on that metric (training.yaml; credit: `gate.min_roc_auc`): past it, a model is
no better than one the gate would refuse. A curve that never crosses the floor gives the oldest age the
backtest measured (`basis: horizon`): there is no evidence beyond it.

`staleness.py` turns a stored backtest (its JSON) into the SteelthreadModelStale rule's threshold; the
committed table and the rule are kept in sync by a test.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from steelthread_training.config import LightGBMConfig, TrainingConfig
from steelthread_training.errors import TrainingError
from steelthread_training.frame import TIME, FrameSpec
from steelthread_training.models import labels, train_lightgbm
from steelthread_training.tasks import task_kind

LABEL_TIME = "label_time"
"""When each row's label arrived (the labels table's `tables.label_time`)."""
DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Window:
    start: str
    end: str
    age_days: float
    """Age of the model at the window's start, in days."""
    rows: int
    value: float
    """The primary metric on this window (NaN: too few rows, or one class only)."""
    breached: bool


@dataclass(frozen=True)
class Backtest:
    metric: str
    higher_is_better: bool
    floor: float
    trained_at: str
    train_rows: int
    window_days: int
    seed: int
    windows: tuple[Window, ...]
    use_case: str = ""
    model_name: str = ""

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(w) for w in self.windows])

    def to_json(self) -> str:
        doc = asdict(self)
        doc["windows"] = [
            {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in w.items()}
            for w in doc["windows"]
        ]
        return json.dumps(doc, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Backtest:
        doc = json.loads(text)
        windows = tuple(
            Window(**{**w, "value": math.nan if w["value"] is None else w["value"]}) for w in doc["windows"]
        )
        return cls(**{**doc, "windows": windows})


@dataclass(frozen=True)
class AlertAge:
    days: int
    basis: str
    """"first breach": the first window worse than the floor; "horizon": none was, the oldest age measured."""


def worse(value: float, floor: float, higher_is_better: bool) -> bool:
    return value < floor if higher_is_better else value > floor


def alert_age(backtest: Backtest) -> AlertAge:
    """The model age (whole days) at which the decay curve first falls below the gate's floor."""
    measured = [w for w in backtest.windows if math.isfinite(w.value)]
    if not measured:
        raise TrainingError("the backtest measured no window: nothing to derive an alert age from")
    for window in measured:
        if window.breached:
            return AlertAge(days=max(1, math.floor(window.age_days)), basis="first breach")
    last = measured[-1]
    return AlertAge(days=max(1, math.floor(last.age_days + backtest.window_days)), basis="horizon")


def train_at(
    frame: pd.DataFrame, trained_at: pd.Timestamp, config: TrainingConfig, seed: int, spec: FrameSpec
) -> tuple[Any, int]:
    """The model a retrain at `trained_at` would fit: earlier events whose label had arrived, split by time
    into training and early-stopping rows in training.yaml's train:validation proportion."""
    known = frame[(frame[TIME] < trained_at) & (frame[LABEL_TIME] <= trained_at)]
    known = known.sort_values(TIME, kind="stable").reset_index(drop=True)
    if len(known) < config.validation.min_rows:
        raise TrainingError(
            f"only {len(known)} events had a label by {trained_at.isoformat()} "
            f"(validation.min_rows is {config.validation.min_rows}): train later or generate more history"
        )
    cut = int(len(known) * config.split.train / (config.split.train + config.split.validation))
    lightgbm: LightGBMConfig = config.lightgbm
    model = train_lightgbm(
        known.iloc[:cut], known.iloc[cut:], lightgbm, seed, features=spec.features, task=spec.task
    )
    return model, len(known)


def backtest(
    frame: pd.DataFrame,
    config: TrainingConfig,
    seed: int,
    *,
    trained_at: datetime,
    window_days: int,
    spec: FrameSpec,
    min_rows: int | None = None,
) -> Backtest:
    """Train at `trained_at`, score each later window of `window_days`; `frame` carries LABEL_TIME."""
    if window_days < 1:
        raise TrainingError("window_days must be at least 1")
    for column in (TIME, LABEL_TIME):
        if column not in frame.columns:
            raise TrainingError(f"the backtest frame has no {column!r} column")
    kind = task_kind(spec.task)
    floor = kind.primary_floor(config.gate)
    if floor is None:
        raise TrainingError(f"training.yaml sets no gate floor on {kind.primary}: no alert age to derive")
    at = pd.Timestamp(trained_at)
    model, train_rows = train_at(frame, at, config, seed, spec)
    later = frame[frame[TIME] >= at]
    smallest = config.slices.min_rows if min_rows is None else min_rows
    windows: list[Window] = []
    age = 0
    last = later[TIME].max() if len(later) else at
    while at + age * DAY <= last:
        start, end = at + age * DAY, at + (age + window_days) * DAY
        rows = later[(later[TIME] >= start) & (later[TIME] < end)]
        y = labels(rows, spec.task)
        value = math.nan
        if len(rows) >= smallest and (kind.higher_is_better is False or len(np.unique(y)) > 1):
            value = float(kind.primary_value(y, model.score(rows), config))
        windows.append(
            Window(
                start=start.isoformat(),
                end=end.isoformat(),
                age_days=float(age),
                rows=len(rows),
                value=value,
                breached=bool(math.isfinite(value) and worse(value, floor, kind.higher_is_better)),
            )
        )
        age += window_days
    return Backtest(
        metric=kind.primary,
        higher_is_better=kind.higher_is_better,
        floor=float(floor),
        trained_at=at.isoformat(),
        train_rows=train_rows,
        window_days=window_days,
        seed=seed,
        windows=tuple(windows),
    )


def decay_plot(backtest: Backtest) -> bytes:
    """The decay curve: the metric per window against the model's age, with the floor and the alert age."""
    from steelthread_training.plots import _figure, _png

    fig, ax = _figure()
    table = backtest.table()
    ax.plot(table["age_days"], table["value"], marker="o", label=backtest.metric)  # type: ignore[attr-defined]
    ax.axhline(backtest.floor, linestyle="--", color="red", label="gate floor")  # type: ignore[attr-defined]
    age = alert_age(backtest)
    ax.axvline(age.days, linestyle=":", color="grey", label=f"alert age ({age.basis})")  # type: ignore[attr-defined]
    ax.set(  # type: ignore[attr-defined]
        xlabel="model age (days)", ylabel=backtest.metric, title="Staleness backtest: decay with age"
    )
    ax.legend()  # type: ignore[attr-defined]
    return _png(fig)


def with_label_times(
    frame: pd.DataFrame, label_table: pd.DataFrame, request_id: str, label_time: str
) -> pd.DataFrame:
    """The training frame with each row's label arrival time (the latest label of a request wins, as in
    `dataset.label_events`)."""
    times = label_table.drop_duplicates(request_id, keep="last")[[request_id, label_time]]
    out = frame.merge(times.rename(columns={label_time: LABEL_TIME}), on=request_id, how="left")
    if out[LABEL_TIME].isna().any():
        raise TrainingError("some training rows have no label arrival time")
    return out


def _value(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else "n/a"


def summary_rows(backtest: Backtest) -> Sequence[tuple[str, str, str, str]]:
    """(age, window start, rows, value) per window, for the CLI's table."""
    return [(f"{w.age_days:.0f}", w.start[:10], str(w.rows), _value(w.value)) for w in backtest.windows]
