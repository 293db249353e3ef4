"""Stages 2 to 6 as one pure function of a validated frame: split, train, evaluate, export, gate.

Nothing here touches MLflow, Feast or the file system, so the whole modelling path runs in unit tests on
tiny random frames, and a run is reproducible from its frame, its config and its seed alone. The task
(binary, regression, multiclass) comes with the frame's spec (default: the active use case's) and every
task-dependent step asks `tasks.task_kind(task)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import pandas as pd

from steelthread_contracts.package import Task
from steelthread_training.config import TrainingConfig
from steelthread_training.evaluation import Evaluation
from steelthread_training.export import (
    ParityReport,
    onnx_predict,
    onnx_session,
    output_name,
    parity,
    to_onnx,
)
from steelthread_training.frame import LABEL, SCORE, SPEC, FrameSpec
from steelthread_training.gate import ChampionComparison, GateCheck, GateVerdict, check, run_gate
from steelthread_training.models import (
    TrainedModel,
    feature_importance,
    labels,
    matrix,
    train_baseline,
    train_lightgbm,
    tree_hash,
)
from steelthread_training.smoke import SmokeSet
from steelthread_training.split import Split, time_split
from steelthread_training.tasks import TaskKind, task_kind
from steelthread_training.timing import StageTimer
from steelthread_training.tuning import TuningResult, tune

ChampionScorer = Callable[[pd.DataFrame, np.ndarray], ChampionComparison]
"""Scores the current champion on the test frame (rows, labels); returns the comparison."""

NO_CHAMPION = ChampionComparison(
    version=None, value=None, note="no champion yet: first model, nothing to compare"
)


@dataclass(frozen=True)
class Candidate:
    split: Split
    baseline: TrainedModel
    lightgbm: TrainedModel
    baseline_eval: Evaluation
    evaluation: Evaluation
    review_threshold: float | None
    """Binary: refer to a person from here (threshold x review_band); other tasks: None."""
    onnx_bytes: bytes
    test_scores: np.ndarray
    """The package's score on the test slice from ONNX: what serving would answer."""
    native_test_scores: np.ndarray
    baseline_test_scores: np.ndarray
    parity: ParityReport
    smoke_scores: np.ndarray
    verdict: GateVerdict
    tree_hash: str
    importance: pd.DataFrame
    full_baseline_metric: float
    """The baseline on every feature, scored on the primary metric (reported, not gated; see training.yaml);
    the gated baseline itself when `baseline.features` is null."""
    spec: FrameSpec = SPEC
    smoke: SmokeSet | None = None
    classes: int | None = None
    """Multiclass: K."""
    score_column: int | None = None
    """Where the score is in the ONNX output (the manifest's `onnx.positive_class_index`)."""
    score_description: str = ""
    test_predictions: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """ONNX predictions on the test slice in `TrainedModel.score`'s shape (multiclass: [N, K])."""
    tuning: TuningResult | None = None
    """The search whose best parameters the final model was fitted with (`--tune`); None: training.yaml's."""

    @property
    def task(self) -> Task:
        return self.spec.task

    @property
    def kind(self) -> TaskKind:
        return task_kind(self.spec.task)

    @property
    def onnx_output(self) -> str:
        return output_name(self.spec.task)

    def reference(self) -> pd.DataFrame:
        """Monitoring reference: the test slice's features, ONNX score, label and slice columns."""
        test = self.split.test
        frame = test[list(self.spec.features)].copy()
        frame[SCORE] = self.test_scores
        frame[LABEL] = labels(test, self.spec.task)
        for column in self.spec.slices:
            if column in test.columns:
                frame[column] = test[column].astype("object").fillna("missing").astype(str)
        return frame.reset_index(drop=True)


def smoke_checks(scores: np.ndarray, smoke: SmokeSet) -> list[GateCheck]:
    """Each fixed case inside its stated bounds (an ML sanity check no average metric gives)."""
    checks = [
        check(f"smoke.{case.name}", float(score), "in", case.bounds[0], note=case.why, upper=case.bounds[1])
        for case, score in zip(smoke.cases, scores, strict=True)
    ]
    order = smoke.ordering
    if order:
        by_name = {case.name: float(score) for case, score in zip(smoke.cases, scores, strict=True)}
        ordered = all(by_name[a] < by_name[b] for a, b in pairwise(order))
        checks.append(check("smoke.ordering", 1.0 if ordered else 0.0, ">=", 1.0, note=" < ".join(order)))
    return checks


def fit_candidate(
    frame: pd.DataFrame,
    config: TrainingConfig,
    seed: int,
    *,
    champion: ChampionScorer | None = None,
    timer: StageTimer | None = None,
    spec: FrameSpec | None = None,
    smoke: SmokeSet | None = None,
    tuned: bool = False,
) -> Candidate:
    """Split, (tune,) train LightGBM and the baseline, evaluate both, export and check ONNX, gate.

    `spec` and `smoke` default to the active use case's (its task, features, slices, protected attribute
    and smoke cases); pass them to run the same stages on another frame. `tuned` searches LightGBM's
    parameters first (`tuning.tune`, on the training slice alone) and fits the final model with the best.
    """
    spec = spec or SPEC
    smoke = smoke or SmokeSet.of_use_case()
    kind = task_kind(spec.task)
    features = spec.features
    timer = timer or StageTimer()
    with timer.stage("split"):
        split = time_split(frame, config.split)
    classes = kind.classes(labels(frame, spec.task), config)  # every class of the frame, not only train's
    tuning = None
    lightgbm_config = config.lightgbm
    if tuned:
        with timer.stage("tune"):
            tuning = tune(split.train, config, seed, features=features, task=spec.task, classes=classes)
        lightgbm_config = config.lightgbm.model_copy(update=tuning.best_params)
    with timer.stage("train"):
        baseline = train_baseline(
            split.train,
            config.baseline,
            seed,
            features=config.baseline.features or features,
            task=spec.task,
            classes=classes,
        )
        full_baseline = (
            train_baseline(
                split.train, config.baseline, seed, features=features, task=spec.task, classes=classes
            )
            if config.baseline.features is not None
            else baseline
        )
        lightgbm = train_lightgbm(
            split.train,
            split.validation,
            lightgbm_config,
            seed,
            features=features,
            task=spec.task,
            classes=classes,
        )
    with timer.stage("evaluate"):
        y_val, y_test = labels(split.validation, spec.task), labels(split.test, spec.task)
        threshold, review = kind.decision(y_val, lightgbm.score(split.validation), config)
        base_threshold, _ = kind.decision(y_val, baseline.score(split.validation), config)
        native = lightgbm.score(split.test)
        base_predicted = baseline.score(split.test)
        evaluation = kind.evaluate(
            "lightgbm",
            split.test,
            y_test,
            native,
            threshold=threshold,
            config=config,
            protected=spec.protected,
        )
        baseline_eval = kind.evaluate(
            "baseline",
            split.test,
            y_test,
            base_predicted,
            threshold=base_threshold,
            config=config,
            protected=spec.protected,
        )
        full_metric = kind.primary_value(y_test, full_baseline.score(split.test), config)
        importance = feature_importance(lightgbm)
        digest = tree_hash(lightgbm)
        column = kind.score_column(config, classes)
        description = kind.describe_score(config, classes)
    with timer.stage("export"):
        onnx_bytes = to_onnx(lightgbm, score=description).SerializeToString()
        session = onnx_session(onnx_bytes)
        exported = onnx_predict(session, matrix(split.test, features), spec.task)
        report = parity(native, exported, config.parity, config.parity.scale or kind.parity_scale)
        smoke_scores = kind.score(onnx_predict(session, smoke.matrix(), spec.task), column)
    with timer.stage("gate"):
        comparison = champion(split.test, y_test) if champion is not None else NO_CHAMPION
        verdict = run_gate(evaluation, baseline_eval, comparison, config.gate, report)
        extra = smoke_checks(smoke_scores, smoke)
        verdict = GateVerdict(
            passed=verdict.passed and all(c.passed for c in extra),
            checks=(*verdict.checks, *extra),
            champion=verdict.champion,
            notes=verdict.notes,
        )
    return Candidate(
        split=split,
        baseline=baseline,
        lightgbm=lightgbm,
        baseline_eval=baseline_eval,
        evaluation=evaluation,
        review_threshold=review,
        onnx_bytes=onnx_bytes,
        test_scores=kind.score(exported, column),
        native_test_scores=kind.score(native, column),
        baseline_test_scores=kind.score(base_predicted, column),
        parity=report,
        smoke_scores=smoke_scores,
        verdict=verdict,
        tree_hash=digest,
        importance=importance,
        full_baseline_metric=full_metric,
        spec=spec,
        smoke=smoke,
        classes=classes,
        score_column=column,
        score_description=description,
        test_predictions=exported,
        tuning=tuning,
    )
