"""Stage 3a (`steelthread-train run --tune`): a seeded hyperparameter search for LightGBM.

The search never sees the test set, nor the validation slice the final model stops early on and picks its
threshold on: it carves its own holdout from the newest `tuning.holdout` share of the *training* slice (by
time, like every split here), fits each trial on the older rows with early stopping on that holdout, and
scores the task's primary metric there. Optuna's TPE sampler is seeded and trials run one at a time, and
LightGBM is deterministic, so the same frame, configuration and seed give the same trials and the same
best parameters. Budget (`trials`, optional `timeout_s`) and search space live in the use case's
training.yaml; a time budget makes the number of trials depend on the machine, so it is off by default.

The result is plain data: `run_log` logs every trial as a child run of the training run and records the
best parameters, which `candidate.fit_candidate` uses for the final model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from steelthread_contracts.package import Task
from steelthread_training.config import TUNABLE, TrainingConfig, TuningConfig
from steelthread_training.errors import TrainingError
from steelthread_training.frame import TIME
from steelthread_training.models import labels, train_lightgbm


@dataclass(frozen=True)
class Trial:
    number: int
    params: dict[str, float | int]
    value: float
    """The primary metric on the tuning holdout."""
    best_iteration: int
    seconds: float


@dataclass(frozen=True)
class TuningResult:
    metric: str
    direction: str
    """"maximize" or "minimize"."""
    trials: tuple[Trial, ...]
    best: Trial
    fit_rows: int
    holdout_rows: int
    seed: int

    @property
    def best_params(self) -> dict[str, float | int]:
        return dict(self.best.params)

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "direction": self.direction,
            "seed": self.seed,
            "fit_rows": self.fit_rows,
            "holdout_rows": self.holdout_rows,
            "best_trial": self.best.number,
            "best_value": self.best.value,
            "best_params": self.best_params,
            "trials": [
                {
                    "number": t.number,
                    "value": t.value,
                    "params": t.params,
                    "best_iteration": t.best_iteration,
                    "seconds": round(t.seconds, 3),
                }
                for t in self.trials
            ],
        }


def holdout_split(train: pd.DataFrame, holdout: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training slice's older rows (to fit) and its newest `holdout` share (to score), by time; rows
    sharing a timestamp stay on one side, as in `split.time_split`."""
    ordered = train.sort_values(TIME, kind="stable").reset_index(drop=True)
    times = ordered[TIME].to_numpy()
    n = len(ordered)
    cut = int(np.searchsorted(times, times[min(int(n * (1.0 - holdout)), n - 1)], side="left"))
    if cut == 0 or cut == n:
        raise TrainingError(f"the tuning holdout left nothing to fit or to score ({n} training rows)")
    return ordered.iloc[:cut].reset_index(drop=True), ordered.iloc[cut:].reset_index(drop=True)


def tune(
    train: pd.DataFrame,
    config: TrainingConfig,
    seed: int,
    *,
    features: Sequence[str],
    task: Task,
    classes: int | None = None,
) -> TuningResult:
    """Search `config.tuning.space` for the LightGBM parameters that score best on the holdout."""
    import optuna

    from steelthread_training.tasks import task_kind

    tuning = config.tuning
    if not tuning.space:
        raise TrainingError("tuning.space is empty: name at least one LightGBM parameter to search")
    kind = task_kind(task)
    fit, holdout = holdout_split(train, tuning.holdout)
    y_holdout = labels(holdout, task)
    direction: Literal["maximize", "minimize"] = "maximize" if kind.higher_is_better else "minimize"
    trials: list[Trial] = []

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, tuning)
        started = time.perf_counter()
        model = train_lightgbm(
            fit,
            holdout,
            config.lightgbm.model_copy(update=params),
            seed,
            features=features,
            task=task,
            classes=classes,
        )
        value = float(kind.primary_value(y_holdout, model.score(holdout), config))
        if not np.isfinite(value):
            raise TrainingError(f"tuning trial {trial.number} scored {value} on the holdout")
        trials.append(
            Trial(
                number=trial.number,
                params=params,
                value=value,
                best_iteration=int(model.params["best_iteration"]),
                seconds=time.perf_counter() - started,
            )
        )
        return value

    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(direction=direction, sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=tuning.trials, timeout=tuning.timeout_s, n_jobs=1)
    best = next(t for t in trials if t.number == study.best_trial.number)
    return TuningResult(
        metric=kind.primary,
        direction=direction,
        trials=tuple(trials),
        best=best,
        fit_rows=len(fit),
        holdout_rows=len(holdout),
        seed=seed,
    )


def suggest(trial: Any, tuning: TuningConfig) -> dict[str, float | int]:
    """One trial's parameters from the search space (integers stay integers)."""
    params: dict[str, float | int] = {}
    for name, bounds in tuning.space.items():
        if TUNABLE[name] == "int":
            params[name] = trial.suggest_int(name, int(bounds.low), int(bounds.high), log=bounds.log)
        else:
            params[name] = trial.suggest_float(name, bounds.low, bounds.high, log=bounds.log)
    return params
