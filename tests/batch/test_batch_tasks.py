"""Task types: a regression package scores through the same Arrow path as a binary one.

The score is the model's prediction (onnxruntime on the same rows is the reference), the decision is the
use case's decision policy (its cuts through the same columnar rule, or its fail-closed fallback when it
states none), `threshold` is null when there are no cuts. A multiclass package answers the probability of
the class its manifest names. These packages have their task whatever the active use case's is; a policy
without cuts (`NO_CUTS`) is passed explicitly where the fallback is under test, since the active use case's
policy may state cuts (the delivery example's does).
"""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from batch.conftest import cli_env, run_cli, scoring_table, write_input

from helpers.packages import make_package, onnx_scores
from helpers.packages import publish as point
from steelthread_batch.errors import BatchInputError
from steelthread_batch.local_engine import LocalJob, run_local
from steelthread_batch.package import ModelPackage, load_package, resolve_package
from steelthread_batch.scoring import RunInfo, score_batches
from steelthread_batch.sessions import smoke_check
from steelthread_contracts import PredictionLogRecord
from steelthread_contracts.decision import DecisionPolicy, Thresholds, decide
from steelthread_contracts.package import Task
from steelthread_contracts.usecase import active
from steelthread_features import feature_names

RUN = RunInfo(run_id="run-tasks", started_at=datetime(2026, 11, 1, tzinfo=UTC))
NO_CUTS = DecisionPolicy(fallback=active().policy.fallback, name="no-cuts")
"""The active policy's fail-closed fallback, without cuts: every scored row of a thresholdless package gets
the fallback."""


@pytest.fixture(scope="module")
def regression_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("regression-models")
    make_package(
        root,
        "1",
        seed=3,
        feature_names=feature_names(),
        trees=30,
        rows=3_000,
        missing=0.05,
        name="regression-lgbm",
        task="regression",
    )
    point(root, "champion", "1")
    return root


@pytest.fixture(scope="module")
def regression(regression_dir: Path) -> ModelPackage:
    return load_package(regression_dir / "versions" / "1", policy=NO_CUTS)


def _matrix(table: pa.Table, names: tuple[str, ...]) -> np.ndarray:
    return np.column_stack([table.column(n).to_numpy(zero_copy_only=False) for n in names]).astype(np.float32)


def test_a_regression_package_loads_with_its_task_and_no_thresholds(
    regression_dir: Path, regression: ModelPackage
) -> None:
    assert regression.task is Task.REGRESSION
    assert regression.positive_class_index is None
    assert (regression.threshold, regression.thresholds) == (None, None)
    assert regression.fallback is NO_CUTS.fallback
    # Resolved as the CLI does, the active use case's policy decides: its cuts, or none (the credit example
    # states none for other tasks).
    resolved = resolve_package(regression_dir)
    assert resolved.thresholds == active().policy.cuts
    assert resolved.fallback is active().policy.fallback
    # The description travels to Spark executors by pickle, task and fallback included.
    assert pickle.loads(pickle.dumps(regression)) == regression
    smoke_check(regression)  # the graph re-scores its smoke cases (predictions, not probabilities)


def test_the_local_engine_scores_a_regression_package_like_onnxruntime(
    tmp_path: Path, regression: ModelPackage
) -> None:
    table = scoring_table(regression, 4_000, seed=41, bad_every=101)
    source = write_input(table, tmp_path / "in", row_group_size=1_000, files=2)
    log_dir = tmp_path / "log"
    summary = run_local(
        LocalJob(
            str(source),
            str(tmp_path / "out"),
            regression,
            "champion",
            str(log_dir),
            rows_per_part=1_500,
        )
    )
    refused = len(range(0, 4_000, 101))
    assert (summary.rows_in, summary.scored, summary.quarantined) == (4_000, 4_000 - refused, refused)
    scores = pq.read_table(tmp_path / "out" / "scores")
    by_id = dict(zip(table.column("request_id").to_pylist(), range(table.num_rows), strict=True))
    rows = np.array([by_id[r] for r in scores.column("request_id").to_pylist()])
    want = onnx_scores(
        regression.model_path, _matrix(table, regression.feature_names)[rows], task="regression"
    )
    got = scores.column("score").to_numpy()
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, float(np.abs(want).max()))
    assert got.min() < 0.0 or got.max() > 1.0, "a prediction, not a probability"
    # No cuts: every scored row gets the policy's fallback; the threshold column is null.
    assert set(scores.column("decision").to_pylist()) == {NO_CUTS.fallback.value}
    assert scores.column("threshold").null_count == scores.num_rows
    quarantine = pq.read_table(tmp_path / "out" / "quarantine")
    assert quarantine.num_rows == refused
    log = ds.dataset(log_dir / "batch", format="parquet", partitioning="hive").to_table()
    assert log.num_rows == summary.scored
    for row in log.select(sorted(PredictionLogRecord.model_fields)).slice(0, 20).to_pylist():
        record = PredictionLogRecord.model_validate(row)
        assert record.score == record.scores[0].score
        assert record.decision.value == NO_CUTS.fallback.value


def test_the_policys_cuts_decide_a_regression_score_as_serving_would(
    regression_dir: Path, regression: ModelPackage
) -> None:
    table = scoring_table(regression, 2_000, seed=42, bad_every=97)
    predictions = onnx_scores(
        regression.model_path, _matrix(table, regression.feature_names), task="regression"
    )
    review, decline = np.quantile(predictions[np.isfinite(predictions)], [0.4, 0.8]).tolist()
    policy = DecisionPolicy(name="late-delivery", cuts=Thresholds(review=review, decline=decline))
    package = load_package(regression_dir / "versions" / "1", policy=policy)
    assert (package.review_threshold, package.threshold) == (review, decline)
    result = pa.Table.from_batches(
        list(score_batches(iter(table.to_batches(max_chunksize=300)), package, RUN))
    )
    scored = result.filter(pc.is_null(result.column("quarantine_reason")))
    got = scored.column("score").to_numpy()
    decisions = scored.column("decision").to_pylist()
    assert decisions == [decide(float(s), package.thresholds, policy).value for s in got]
    assert set(decisions) == {"approve", "review", "decline"}
    assert set(scored.column("threshold").to_pylist()) == {decline}
    refused = result.filter(pc.is_valid(result.column("quarantine_reason")))
    assert refused.num_rows == len(range(0, 2_000, 97))
    assert refused.column("decision").null_count == refused.num_rows


def test_a_multiclass_package_scores_its_declared_class(tmp_path: Path) -> None:
    """A multiclass package answers the probability of the class its manifest names
    (`onnx.positive_class_index`); with no cuts in the policy every scored row gets the fallback."""
    folder = make_package(tmp_path / "models", "1", task="multiclass", trees=10)
    package = load_package(folder, policy=NO_CUTS)
    assert (package.task, package.positive_class_index, package.threshold) == (Task.MULTICLASS, 2, None)
    table = scoring_table(package, 300, seed=4)
    result = pa.Table.from_batches(list(score_batches(iter(table.to_batches()), package, RUN)))
    want = onnx_scores(folder / "model.onnx", _matrix(table, package.feature_names), "multiclass")
    np.testing.assert_allclose(result.column("score").to_numpy(), want, rtol=0, atol=1e-6)
    assert set(result.column("decision").to_pylist()) == {NO_CUTS.fallback.value}


def test_a_regression_graph_with_several_outputs_per_row_is_refused(binary_package: ModelPackage) -> None:
    package = binary_package
    from dataclasses import replace

    from steelthread_batch.scoring import predict

    # A binary graph's [N, 2] probabilities described as a regression output: refused, never flattened.
    mislabelled = replace(package, task=Task.REGRESSION, positive_class_index=None)
    matrix = np.zeros((2, len(package.feature_names)), np.float32)
    assert predict(package, matrix, RUN).shape == (2,)
    with pytest.raises(BatchInputError, match=r"must output \[N\] or \[N, 1\], got shape \[2, 2\]"):
        predict(mislabelled, matrix, RUN)


def test_the_cli_scores_a_regression_package_and_refuses_it_on_the_gpu(
    tmp_path: Path, regression_dir: Path, regression: ModelPackage
) -> None:
    source = write_input(scoring_table(regression, 300, seed=43, bad_every=50), tmp_path / "in")
    env = cli_env(tmp_path, regression_dir)
    args = ["score", "--input", str(source), "--output", str(tmp_path / "out")]
    done = run_cli(args, env)
    assert done.returncode == 0, done.stderr
    assert "rows in=300 scored=294 quarantined=6 model=1 engine=local" in done.stdout
    gpu = run_cli([*args[:-1], str(tmp_path / "gpu"), "--device", "cuda"], env)
    assert gpu.returncode == 1
    (line,) = gpu.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert line.endswith("--device cuda scores binary packages; this one is regression")
    assert not (tmp_path / "gpu").exists()
