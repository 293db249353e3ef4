"""Stages 2 to 6 as one pure function of a validated frame: split, train, evaluate, export, gate.

Nothing here touches MLflow, Feast or the file system, so the whole modelling path runs in unit tests on
tiny random frames, and a run is reproducible from its frame, its config and its seed alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from steelthread_training.config import TrainingConfig
from steelthread_training.evaluation import Evaluation, choose_threshold, evaluate, roc_auc
from steelthread_training.export import ParityReport, onnx_scores, onnx_session, parity, to_onnx
from steelthread_training.frame import LABEL, MODEL_FEATURES, SCORE, SLICE_COLUMNS
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
from steelthread_training.smoke import CASES, USE_CASE, smoke_frame
from steelthread_training.split import Split, time_split
from steelthread_training.timing import StageTimer

ChampionScorer = Callable[[pd.DataFrame, np.ndarray], ChampionComparison]
"""Scores the current champion on the test frame (rows, labels); returns the comparison."""

NO_CHAMPION = ChampionComparison(
    version=None, roc_auc=None, note="no champion yet: first model, nothing to compare"
)


@dataclass(frozen=True)
class Candidate:
    split: Split
    baseline: TrainedModel
    lightgbm: TrainedModel
    baseline_eval: Evaluation
    evaluation: Evaluation
    review_threshold: float
    onnx_bytes: bytes
    test_scores: np.ndarray
    """ONNX scores on the test slice: what serving would answer."""
    native_test_scores: np.ndarray
    baseline_test_scores: np.ndarray
    parity: ParityReport
    smoke_scores: np.ndarray
    verdict: GateVerdict
    tree_hash: str
    importance: pd.DataFrame
    full_logreg_roc_auc: float
    """Logistic regression on every feature (reported, not gated; see training.yaml)."""

    def reference(self) -> pd.DataFrame:
        """Monitoring reference: the test slice's features, ONNX score, label and slice columns."""
        test = self.split.test
        frame = test[list(MODEL_FEATURES)].copy()
        frame[SCORE] = self.test_scores
        frame[LABEL] = test[LABEL].to_numpy(dtype=np.int64)
        for column in SLICE_COLUMNS:
            if column in test.columns:
                frame[column] = test[column].astype("object").fillna("missing").astype(str)
        return frame.reset_index(drop=True)


def smoke_checks(scores: np.ndarray) -> list[GateCheck]:
    """Each fixed application inside its stated bounds (an ML sanity check no average metric gives)."""
    checks = [
        check(f"smoke.{case.name}", float(score), "in", case.bounds[0], note=case.why, upper=case.bounds[1])
        for case, score in zip(CASES, scores, strict=True)
    ]
    order = USE_CASE.smoke_ordering
    if order:
        by_name = {case.name: float(score) for case, score in zip(CASES, scores, strict=True)}
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
) -> Candidate:
    timer = timer or StageTimer()
    with timer.stage("split"):
        split = time_split(frame, config.split)
    with timer.stage("train"):
        baseline = train_baseline(
            split.train, config.baseline, seed, features=config.baseline.features or MODEL_FEATURES
        )
        full_logreg = (
            train_baseline(split.train, config.baseline, seed)
            if config.baseline.features is not None
            else baseline
        )
        lightgbm = train_lightgbm(split.train, split.validation, config.lightgbm, seed)
    with timer.stage("evaluate"):
        y_val, y_test = labels(split.validation), labels(split.test)
        threshold = choose_threshold(y_val, lightgbm.score(split.validation), config.threshold)
        base_threshold = choose_threshold(y_val, baseline.score(split.validation), config.threshold)
        native = lightgbm.score(split.test)
        base_scores = baseline.score(split.test)
        evaluation = evaluate("lightgbm", split.test, y_test, native, threshold, config.slices)
        baseline_eval = evaluate("baseline", split.test, y_test, base_scores, base_threshold, config.slices)
        full_logreg_auc = roc_auc(y_test, full_logreg.score(split.test))
        importance = feature_importance(lightgbm)
        digest = tree_hash(lightgbm)
    with timer.stage("export"):
        onnx_bytes = to_onnx(lightgbm).SerializeToString()
        session = onnx_session(onnx_bytes)
        exported = onnx_scores(session, matrix(split.test))
        report = parity(native, exported, config.parity)
        smoke_scores = onnx_scores(session, smoke_frame().to_numpy(dtype=np.float64))
    with timer.stage("gate"):
        comparison = champion(split.test, y_test) if champion is not None else NO_CHAMPION
        verdict = run_gate(evaluation, baseline_eval, comparison, config.gate, report)
        extra = smoke_checks(smoke_scores)
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
        review_threshold=threshold * config.threshold.review_band,
        onnx_bytes=onnx_bytes,
        test_scores=exported,
        native_test_scores=native,
        baseline_test_scores=base_scores,
        parity=report,
        smoke_scores=smoke_scores,
        verdict=verdict,
        tree_hash=digest,
        importance=importance,
        full_logreg_roc_auc=full_logreg_auc,
    )
