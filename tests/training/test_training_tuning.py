"""`--tune`: the seeded search picks its best trial, the final model is fitted with that trial's parameters,
the same seed gives the same search, the search never sees the validation or test slice, and every trial is
an MLflow child run of the training run.

Tiny random frames with their own binary `FrameSpec` (as test_training_stages.py), so this runs whatever use
case is active; a small budget keeps it fast.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from steelthread_contracts.package import Task
from steelthread_contracts.usecase import SmokeCase
from steelthread_training.candidate import fit_candidate
from steelthread_training.config import (
    LightGBMConfig,
    SliceConfig,
    TrainingConfig,
    TuningConfig,
    ValidationConfig,
    load_config,
)
from steelthread_training.errors import TrainingError
from steelthread_training.frame import TIME, FrameSpec
from steelthread_training.models import lightgbm_params
from steelthread_training.smoke import SmokeSet
from steelthread_training.split import time_split
from steelthread_training.tuning import holdout_split, tune

FEATURES = ("strong", "medium", "weak", "noise_1", "noise_2", "noise_3")
BINARY = FrameSpec(task=Task.BINARY, features=FEATURES, slices=("segment",), protected=None)
SMOKE = SmokeSet.direct(
    (SmokeCase("any", "a finite probability", {"strong": 0.5}, (0.0, 1.0)),), FEATURES, ordering=()
)
BUDGET = TuningConfig(trials=5)
CONFIG = TrainingConfig(
    validation=ValidationConfig(min_rows=100, min_positives=10),
    slices=SliceConfig(columns=("segment",), min_rows=50),
    lightgbm=LightGBMConfig(n_estimators=60, num_threads=1, early_stopping_rounds=10),
    tuning=BUDGET,
)


@pytest.fixture(scope="module")
def frame(make_frame) -> pd.DataFrame:
    return make_frame(2_000, seed=2, spec=BINARY)


@pytest.fixture(scope="module")
def candidate(frame: pd.DataFrame):
    return fit_candidate(frame, CONFIG, seed=11, spec=BINARY, smoke=SMOKE, tuned=True)


def test_the_chosen_parameters_are_the_best_trials(candidate) -> None:
    tuning = candidate.tuning
    assert tuning is not None
    assert len(tuning.trials) == BUDGET.trials
    assert tuning.direction == "maximize"
    assert tuning.metric == "roc_auc"
    best = max(tuning.trials, key=lambda t: t.value)
    assert tuning.best == best
    assert len({t.value for t in tuning.trials}) > 1, "the trials should differ"
    assert all(isinstance(t.params["num_leaves"], int) for t in tuning.trials)


def test_the_final_model_is_fitted_with_the_best_parameters(candidate) -> None:
    tuned = CONFIG.lightgbm.model_copy(update=candidate.tuning.best_params)
    expected = lightgbm_params(tuned, 11, Task.BINARY)
    assert {k: candidate.lightgbm.params[k] for k in expected} == expected
    untuned = lightgbm_params(CONFIG.lightgbm, 11, Task.BINARY)
    assert expected != untuned


def test_the_same_seed_gives_the_same_search(frame: pd.DataFrame) -> None:
    train = time_split(frame, CONFIG.split).train
    first = tune(train, CONFIG, 4, features=FEATURES, task=Task.BINARY)
    again = tune(train, CONFIG, 4, features=FEATURES, task=Task.BINARY)
    assert [(t.params, t.value) for t in first.trials] == [(t.params, t.value) for t in again.trials]
    assert first.best_params == again.best_params
    other = tune(train, CONFIG, 5, features=FEATURES, task=Task.BINARY)
    assert [t.params for t in other.trials] != [t.params for t in first.trials]


def test_the_search_sees_only_the_training_slice_split_by_time(frame: pd.DataFrame, candidate) -> None:
    split = time_split(frame, CONFIG.split)
    assert candidate.tuning.fit_rows + candidate.tuning.holdout_rows == len(split.train)
    fit, holdout = holdout_split(split.train, BUDGET.holdout)
    assert fit[TIME].max() <= holdout[TIME].min()
    assert holdout[TIME].max() < split.validation[TIME].min()
    assert len(holdout) == pytest.approx(BUDGET.holdout * len(split.train), abs=2)


def test_a_bad_search_space_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "training.yaml"
    bad.write_text("tuning:\n  space:\n    max_depth: {low: 2, high: 8}\n")
    with pytest.raises(TrainingError, match="max_depth"):
        load_config(bad)
    bad.write_text("tuning:\n  space:\n    learning_rate: {low: 0.2, high: 0.01}\n")
    with pytest.raises(TrainingError, match=r"tuning\.space"):
        load_config(bad)
    good = tmp_path / "good.yaml"
    good.write_text("tuning:\n  trials: 3\n  space:\n    num_leaves: {low: 4, high: 32}\n")
    tuning = load_config(good).tuning
    assert tuning.trials == 3
    assert set(tuning.space) == {"num_leaves"}


@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning")
def test_every_trial_is_a_child_run_and_the_best_is_recorded(candidate, tmp_path: Path) -> None:
    import mlflow
    from mlflow import MlflowClient

    from steelthread_training.run_log import log_tuning

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("tuning", artifact_location=str(tmp_path / "artifacts"))
    with mlflow.start_run(experiment_id=experiment, run_name="parent") as parent:
        log_tuning(candidate.tuning)
    client = MlflowClient(uri)
    children = client.search_runs(
        [experiment], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert len(children) == BUDGET.trials
    best = [r for r in children if r.data.tags["tuning.best"] == "true"]
    assert len(best) == 1
    assert best[0].data.tags["tuning.trial"] == str(candidate.tuning.best.number)
    recorded = client.get_run(parent.info.run_id).data
    assert recorded.tags["tuning.best_trial"] == str(candidate.tuning.best.number)
    assert {k: float(v) for k, v in recorded.params.items() if k.startswith("tuning.best.")} == {
        f"tuning.best.{k}": float(v) for k, v in candidate.tuning.best_params.items()
    }
