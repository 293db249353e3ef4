"""Know quality before labels (CBPE): on generated covariate-shift scenarios the estimate from the scores
alone is within 0.02 of the ROC AUC the labels later show; under concept drift it is not, which is why the
label-based metric and its alert stay. A monitoring run exports the estimate beside the realised metric."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from steelthread_monitoring.cbpe import Calibrator, estimate, expected_roc_auc
from steelthread_monitoring.job import RunOptions, run_monitoring
from steelthread_monitoring.synthetic import Deployment

ROWS = 20_000
COEF = np.array([1.2, -0.8, 0.5])


def _logit(x: np.ndarray, coef: np.ndarray = COEF) -> np.ndarray:
    """The truth: linear terms, one interaction and a threshold effect."""
    return x @ coef + 0.6 * x[:, 0] * x[:, 2] + 0.8 * (x[:, 1] > 1.0) - 1.0


def _window(
    rng: np.random.Generator, shift: np.ndarray, scale: float = 1.0, coef: np.ndarray = COEF
) -> tuple[np.ndarray, np.ndarray]:
    """(the model's scores, the labels drawn from the truth) for one window of inputs."""
    x = rng.normal(loc=shift, scale=scale, size=(ROWS, 3))
    labels = (rng.random(ROWS) < 1 / (1 + np.exp(-_logit(x, coef)))).astype(np.int64)
    model_logit = _logit(x)  # the model learned the reference's relation...
    scores = 1 / (1 + np.exp(-(1.8 * model_logit + 0.4)))  # ...and is overconfident: calibration matters
    return scores, labels


SHIFTS = {
    "none": (np.zeros(3), 1.0),
    "first_feature_up": (np.array([1.0, 0.0, 0.0]), 1.0),
    "second_feature_down": (np.array([0.0, -1.2, 0.0]), 1.0),
    "narrower": (np.zeros(3), 0.6),
    "wider_and_moved": (np.array([0.5, 0.5, -0.5]), 1.5),
}


@pytest.mark.parametrize("scenario", sorted(SHIFTS))
def test_the_estimate_is_within_0_02_of_the_realised_roc_auc_under_covariate_shift(scenario: str) -> None:
    rng = np.random.default_rng(sorted(SHIFTS).index(scenario))
    ref_scores, ref_labels = _window(rng, np.zeros(3))
    shift, scale = SHIFTS[scenario]
    scores, labels = _window(rng, shift, scale)
    found = estimate(ref_scores, ref_labels, scores)
    assert found is not None
    realised = roc_auc_score(labels, scores)
    assert abs(found.roc_auc - realised) <= 0.02, (scenario, found.roc_auc, realised)
    assert abs(found.positive_rate - labels.mean()) <= 0.02
    # without calibration the overconfident scores mislead: the reference's calibration is what makes it work
    assert abs(expected_roc_auc(scores, scores) - realised) > abs(found.roc_auc - realised)


def test_concept_drift_is_out_of_its_reach() -> None:
    rng = np.random.default_rng(7)
    ref_scores, ref_labels = _window(rng, np.zeros(3))
    scores, labels = _window(rng, np.zeros(3), coef=np.array([0.2, 0.3, 0.5]))  # the relation changed
    found = estimate(ref_scores, ref_labels, scores)
    assert found is not None
    realised = roc_auc_score(labels, scores)
    assert found.roc_auc - realised > 0.1, "the scores look as before: only labels show the model got worse"


def test_expected_roc_auc_is_the_roc_auc_of_certain_labels_and_handles_ties() -> None:
    rng = np.random.default_rng(3)
    scores = rng.random(500).round(2)  # many ties
    labels = (rng.random(500) < scores).astype(np.float64)
    assert expected_roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert np.isnan(expected_roc_auc(scores, np.ones(500)))
    calibrate = Calibrator.fit(scores, labels.astype(np.int64))
    assert np.all(np.diff(calibrate(np.sort(scores))) >= 0)
    assert estimate(scores, np.zeros(500, dtype=np.int64), scores) is None  # one class: nothing to calibrate


def test_a_monitoring_run_exports_the_estimate_beside_the_realised_metric(
    deployment_factory: Callable[..., Deployment],
    options_for: Callable[..., RunOptions],
    tmp_path: Path,
) -> None:
    deployment = deployment_factory()
    outcome = run_monitoring(options_for(deployment, tmp_path))
    performance = outcome.summary.performance
    if performance.task != "binary":  # CBPE estimates a binary model's ROC AUC; other tasks export none
        assert performance.estimated == {}
        return
    assert 0.5 <= performance.estimated["roc_auc"] <= 1.0
    assert 0.0 < performance.estimated["positive_rate"] < 1.0
    lines = (tmp_path / "textfile" / "steelthread_monitor.prom").read_text().splitlines()
    estimated = [line for line in lines if line.startswith("steelthread_monitor_estimated_performance{")]
    assert any('metric="roc_auc"' in line for line in estimated)
    assert any(line.startswith("steelthread_monitor_performance{") for line in lines)
