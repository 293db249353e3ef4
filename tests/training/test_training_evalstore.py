"""The model evaluation store, end to end: real MLflow (SQLite and files), real registered versions, a real
prediction log read by the monitoring reader, and the commands an operator runs.

Two versions of the active use case's model are registered: `good` and `weak` (two one-split trees). A
labelled cohort is written as prediction-log and feedback lines, `good` answering and `weak` shadowing, so
the same rows serve the backfill (every version re-scored) and the paired comparison (the logged scores).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from helpers.training_task import KIND, PRIMARY
from steelthread_contracts.log import PREDICTION_LOG_SCHEMA_VERSION
from steelthread_contracts.package import Task, write_pointer
from steelthread_monitoring import cli_eval
from steelthread_training.candidate import fit_candidate
from steelthread_training.config import (
    LightGBMConfig,
    SliceConfig,
    TrainingConfig,
    ValidationConfig,
    load_config,
)
from steelthread_training.errors import GateRefusedError
from steelthread_training.evalstore import Dataset, EvaluationStore, fingerprint
from steelthread_training.evidence import backfill, champion_checks
from steelthread_training.frame import LABEL, MODEL_FEATURES, REQUEST_ID, TASK
from steelthread_training.promotion import publish, require_not_worse
from steelthread_training.tracking import Registry
from steelthread_training.versions import loaded

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
]
# Why the filters: see test_training_pipeline.py (both come from inside MLflow 3.17, not from this code).

SMALL = TrainingConfig(
    validation=ValidationConfig(min_rows=100, min_positives=10),
    slices=SliceConfig(min_rows=50),
    lightgbm=LightGBMConfig(n_estimators=60, num_threads=1, early_stopping_rounds=10),
    baseline=load_config().baseline.model_copy(update={"features": None}),
)
WEAK = SMALL.model_copy(
    update={"lightgbm": LightGBMConfig(n_estimators=2, num_leaves=2, early_stopping_rounds=0, num_threads=1)}
)
END = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
COHORT_ROWS = 1_200


@dataclass(frozen=True)
class Store:
    root: Path
    settings: object
    registry: Registry
    good: str
    weak: str
    cohort: pd.DataFrame
    env: dict[str, str]


def _log(root: Path, rows: pd.DataFrame, scores: dict[str, np.ndarray], answering: str) -> None:
    """Prediction-log and feedback JSON lines of `rows`: `answering` answers, every version is scored."""
    log_dir, feedback_dir = root / "prediction-log", root / "feedback"
    log_dir.mkdir(parents=True)
    feedback_dir.mkdir(parents=True)
    start = END - timedelta(hours=2)
    lines, labels = [], []
    for i, row in enumerate(rows.itertuples(index=False)):
        at = start + timedelta(seconds=5 * i)
        features = {
            name: (None if pd.isna(v) else float(v)) for name, v in zip(MODEL_FEATURES, row, strict=False)
        }
        record = {
            "schema_version": PREDICTION_LOG_SCHEMA_VERSION,
            "logged_at": at.isoformat(),
            "request_id": str(getattr(row, REQUEST_ID)),
            "entity_key": i + 1,
            "model_name": "m",
            "model_version": answering,
            "mode": "live",
            "request": {},
            "features": features,
            "score": float(scores[answering][i]),
            "decision": "approve",
            "scores": [
                {
                    "model_name": "m",
                    "model_version": v,
                    "role": "champion" if v == answering else "challenger",
                    "score": float(s[i]),
                }
                for v, s in scores.items()
            ],
            "latency_ms": 3.0,
        }
        lines.append(json.dumps(record))
        observed = (at + timedelta(minutes=1)).isoformat()
        labels.append(json.dumps({"request_id": record["request_id"], "observed_label": float(getattr(row, LABEL)),
                                  "observed_at": observed}))  # fmt: skip
    (log_dir / "predictions-test.jsonl").write_text("\n".join(lines) + "\n")
    (feedback_dir / "feedback-test.jsonl").write_text("\n".join(labels) + "\n")


@pytest.fixture(scope="module")
def store(make_frame, settings_for, register_version, tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("evalstore")
    settings = settings_for(root)
    registry = Registry(settings)
    frame = make_frame(3_000, seed=11)
    good = register_version(registry, fit_candidate(frame, SMALL, seed=1), root / "w1")
    weak = register_version(registry, fit_candidate(frame, WEAK, seed=1), root / "w2")
    for version in (good, weak):
        publish(registry, settings, version)
    write_pointer(settings.models_dir, "champion", good)
    registry.set_alias("champion", good)
    cohort = make_frame(COHORT_ROWS, seed=12)
    with loaded(registry, [good, weak]) as models:
        scores = {v: KIND.score(m.predict(cohort), None) for v, m in models.items()}
    _log(root, cohort[[*MODEL_FEATURES, REQUEST_ID, LABEL]], scores, answering=good)
    env = {
        "STEELTHREAD_DATA_DIR": str(root),
        "STEELTHREAD_PROFILE": "local",
        "STEELTHREAD_ACTOR": "pytest",
        "STEELTHREAD_MONITOR_MIN_LABELS": "100",
        "COLUMNS": "250",  # Rich's table width: no cell wrapped
    }
    return Store(root, settings, registry, good, weak, cohort, env)


def _invoke(store: Store, app: object, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=store.env)  # type: ignore[arg-type]
    return result.exit_code, result.output


def test_backfill_keeps_the_cohort_and_stores_every_versions_task_metrics(store: Store) -> None:
    start = (END - timedelta(hours=3)).isoformat()
    code, out = _invoke(store, cli_eval.app, "backfill", "--window", "3h", "--end", END.isoformat())
    assert code == 0, out
    assert f"{COHORT_ROWS} labelled rows" in out
    assert "2 new evaluation(s)" in out
    evaluations = EvaluationStore(store.registry).evaluations()
    assert {e.version for e in evaluations} == {store.good, store.weak}
    (cohort,) = EvaluationStore(store.registry).cohorts()
    assert cohort.start is not None
    assert cohort.start.isoformat() == start
    # one owner of the metrics: the stored value is the task's own metric of the version's ONNX scores
    with loaded(store.registry, [store.good]) as models:
        predicted = models[store.good].predict(store.cohort)
    y = store.cohort[LABEL].to_numpy(dtype=np.float64 if TASK is Task.REGRESSION else np.int64)
    stored = next(e for e in evaluations if e.version == store.good)
    assert stored.metrics[PRIMARY] == pytest.approx(KIND.primary_value(y, predicted, SMALL), rel=1e-9)
    assert stored.dataset.rows == COHORT_ROWS
    good, weak = (
        next(e for e in evaluations if e.version == v).metrics[PRIMARY] for v in (store.good, store.weak)
    )
    assert (good > weak) if KIND.higher_is_better else (good < weak)

    again, out = _invoke(store, cli_eval.app, "backfill", "--window", "3h", "--end", END.isoformat())
    assert again == 0, out
    assert "0 new evaluation(s)" in out
    assert "2 already stored" in out
    assert len(EvaluationStore(store.registry).cohorts()) == 1


def test_a_stored_cohort_comes_back_with_its_fingerprint(store: Store) -> None:
    backfill(store.registry, _cohort(store), SMALL)
    db = EvaluationStore(store.registry)
    info = db.cohorts()[0]
    loaded_back = db.load_cohort(info)
    assert fingerprint(loaded_back.frame) == info.fingerprint
    shuffled = loaded_back.frame.sample(frac=1.0, random_state=0)[list(reversed(loaded_back.frame.columns))]
    assert fingerprint(shuffled) == info.fingerprint  # row and column order do not matter


def _cohort(store: Store) -> Dataset:
    """A second labelled cohort, built directly (the first 1,000 rows, an earlier end)."""
    rows = store.cohort.iloc[:1_000]
    frame = rows[[REQUEST_ID, *MODEL_FEATURES, LABEL]].rename(columns={REQUEST_ID: "request_id"})
    return Dataset("cohort:direct", "cohort", frame, END - timedelta(hours=2), END - timedelta(hours=1))


def test_promotion_reads_the_store_a_worse_candidate_is_refused(store: Store) -> None:
    backfill(store.registry, _cohort(store), SMALL)
    notes: list[str] = []
    checks = champion_checks(store.registry, store.weak, store.good, load_config(), notes.append)
    assert [c.name.split(".")[1] for c in checks] == ["test", "cohort"]
    assert not any(c.passed for c in checks), checks
    assert any("WORSE" in n for n in notes)
    with pytest.raises(GateRefusedError, match=f"version {store.weak} is worse than champion {store.good}"):
        require_not_worse(store.registry, store.settings, store.weak, store.good)  # type: ignore[arg-type]
    better = champion_checks(store.registry, store.good, store.weak, load_config())
    assert all(c.passed for c in better), better
    # the candidate's own test set is now in the store for both versions
    names = {e.dataset.name for e in EvaluationStore(store.registry).evaluations([store.weak])}
    assert f"test:v{store.weak}" in names


def test_compare_prints_every_version_on_every_dataset_and_plots(store: Store, tmp_path: Path) -> None:
    backfill(store.registry, _cohort(store), SMALL)
    plot = tmp_path / "compare.png"
    code, out = _invoke(store, cli_eval.app, "compare", "--plot", str(plot))
    assert code == 0, out
    assert f"v{store.good}*" in out
    assert f"v{store.weak}" in out
    assert "cohort:direct" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out = _invoke(store, cli_eval.app, "compare", "--version", store.weak, "--dataset", "nope")
    assert code == 7
    assert out.startswith("error: the evaluation store has no evaluation of version")


def test_paired_compares_the_shadow_scores_and_stores_the_verdict(store: Store) -> None:
    code, out = _invoke(
        store, cli_eval.app, "paired", "--challenger", store.weak, "--window", "3h", "--end", END.isoformat()
    )
    assert code == 0, out
    assert f"champion v{store.good} is better" in out
    assert ("DeLong" if TASK is Task.BINARY else "paired t-test") in out
    (verdict,) = EvaluationStore(store.registry).verdicts(store.weak)
    assert verdict.verdict == "champion_better"
    assert verdict.document["rows"] == COHORT_ROWS
    assert math.isfinite(verdict.document["p_value"])

    code, out = _invoke(
        store, cli_eval.app, "paired", "--challenger", store.weak, "--min-rows", "100000",
        "--window", "3h", "--end", END.isoformat(),
    )  # fmt: skip
    assert code == 5
    assert "no verdict yet" in out


def test_test_sets_measure_each_version_on_its_own_and_the_champions_test_set(store: Store) -> None:
    code, out = _invoke(store, cli_eval.app, "test-sets")
    assert code == 0, out
    assert f"test:v{store.weak}: " in out
    assert f"test:v{store.good}: " in out
    # both versions were trained on one frame: their test sets are the same rows, one fingerprint, stored
    # once under the name it was first measured with
    stored = {(e.version, e.dataset.fingerprint) for e in EvaluationStore(store.registry).evaluations()}
    with loaded(store.registry, [store.good, store.weak]) as models:
        prints = {models[v].test_set().info.fingerprint for v in (store.good, store.weak)}
    assert {(v, f) for v in (store.good, store.weak) for f in prints} <= stored
    again, out = _invoke(store, cli_eval.app, "test-sets")
    assert again == 0, out
    lines = [line for line in out.splitlines() if line.startswith("test:v")]
    assert lines
    assert all(" 0 new evaluation(s)" in line for line in lines), out
