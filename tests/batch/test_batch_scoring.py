"""The one scoring function: exact output schema, one row out per row in, quarantine reasons, parity.

The package has the active use case's task and the inputs its request fields (batch.conftest); the
decisions are the decision policy's, through the package's thresholds (a binary package's own, or the
policy's cuts for a task whose packages state none)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from batch.conftest import INVALID_EVERY, scoring_table

from helpers.packages import onnx_scores
from helpers.usecase import FEATURE_NAMES, JOIN_KEY, USE_CASE, choice_field, number_field, refused_value
from steelthread_batch import sessions
from steelthread_batch.columns import output_schema
from steelthread_batch.errors import BatchInputError
from steelthread_batch.package import resolve_package
from steelthread_batch.scoring import RunInfo, score_batches, scorer
from steelthread_contracts.decision import DecisionPolicy, decide
from steelthread_contracts.package import Task

RUN = RunInfo(run_id="run-1", started_at=datetime(2026, 11, 1, tzinfo=UTC))


def _offline_scores(package, table: pa.Table) -> np.ndarray:
    """Scores straight from onnxruntime with the package's feature order: the offline reference."""
    matrix = np.column_stack(
        [table.column(n).to_numpy(zero_copy_only=False) for n in package.feature_names]
    ).astype(np.float32)
    return onnx_scores(package.model_path, matrix, task=package.task.value)


def test_output_schema_is_exact_and_every_row_comes_out_once(package) -> None:
    table = scoring_table(package, 3_000, seed=1, bad_every=97)
    batches = table.to_batches(max_chunksize=700)
    out = list(score_batches(iter(batches), package, RUN))
    expected = output_schema(table.schema, package)
    assert all(b.schema.equals(expected) for b in out)
    assert expected.field("score").type == pa.float64()  # float32 model output, declared double
    result = pa.Table.from_batches(out)
    assert result.column("request_id").to_pylist() == table.column("request_id").to_pylist()
    refused = pc.is_valid(result.column("quarantine_reason"))
    assert pc.sum(refused).as_py() == len(range(0, 3_000, 97))
    assert set(result.filter(refused).column("quarantine_reason").to_pylist()) == {
        f"invalid_value:{INVALID_EVERY.name}"
    }
    assert result.filter(refused).column("score").null_count == result.filter(refused).num_rows
    scored = result.filter(pc.invert(refused))
    assert scored.column("score").null_count == 0
    assert set(scored.column("model_version").to_pylist()) == {package.version}
    assert set(scored.column("batch_run_id").to_pylist()) == {"run-1"}


def test_batch_scores_equal_offline_onnx_scores_and_decide_as_the_policy_does(package) -> None:
    table = scoring_table(package, 2_000, seed=2)
    result = pa.Table.from_batches(list(scorer(package, RUN)(iter(table.to_batches(max_chunksize=512)))))
    want = _offline_scores(package, table)
    got = result.column("score").to_numpy()
    # Same model, same float32 inputs; onnxruntime may sum trees in another order across threads.
    assert np.abs(got - want).max() <= 1e-6
    # The columnar rule is the decision policy's: the same decision as serving's scalar `decide`.
    decisions = result.column("decision").to_pylist()
    policy = DecisionPolicy(fallback=package.fallback)
    assert decisions == [decide(float(s), package.thresholds, policy).value for s in got]
    assert {"decline", "review", "approve"} <= set(decisions)


BAD_ROWS = [
    ("request_id", None, "missing_value:request_id"),
    ("request_id", "", "missing_value:request_id"),
    (JOIN_KEY, None, f"missing_value:{JOIN_KEY}"),
    *((f.name, refused_value(f), f"invalid_value:{f.name}") for f in USE_CASE.request_fields),
    (choice_field().name, None, f"missing_value:{choice_field().name}"),
    (number_field().name, float("nan"), f"missing_value:{number_field().name}"),
    (FEATURE_NAMES[0], float("inf"), f"invalid_value:{FEATURE_NAMES[0]}"),
]
"""Keys missing, each request field outside its rule, a missing value, an infinite feature value."""


@pytest.mark.parametrize(("column", "value", "reason"), BAD_ROWS, ids=[r for _, _, r in BAD_ROWS])
def test_bad_rows_are_quarantined_with_a_reason(package, column, value, reason) -> None:
    table = scoring_table(package, 4, seed=3)
    values = table.column(column).to_pylist()
    values[1] = value
    table = table.set_column(
        table.schema.get_field_index(column), column, pa.array(values, type=table.schema.field(column).type)
    )
    result = pa.Table.from_batches(list(score_batches(iter(table.to_batches()), package, RUN)))
    assert result.column("quarantine_reason").to_pylist() == [None, reason, None, None]
    assert result.column("score").null_count == 1


def test_a_row_without_any_feature_value_is_quarantined(package) -> None:
    table = scoring_table(package, 3, seed=4)
    for name in package.feature_names:
        values = table.column(name).to_numpy().copy()
        values[0] = np.nan
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(values))
    result = pa.Table.from_batches(list(score_batches(iter(table.to_batches()), package, RUN)))
    assert result.column("quarantine_reason").to_pylist() == ["missing_features", None, None]


def test_the_session_is_built_once_per_process_and_model(package) -> None:
    sessions.clear()
    before = sessions.builds
    table = scoring_table(package, 1_000, seed=5)
    for _ in range(3):
        list(score_batches(iter(table.to_batches(max_chunksize=100)), package, RUN))
    assert sessions.builds - before == 1


def test_a_tampered_model_file_is_refused(tmp_path, models_dir) -> None:
    import shutil

    shutil.copytree(models_dir, tmp_path / "models")
    package = resolve_package(tmp_path / "models")
    (tmp_path / "models" / "versions" / "1" / "model.onnx").write_bytes(b"not the model")
    sessions.clear()
    with pytest.raises(BatchInputError, match="sha256"):
        list(score_batches(iter(scoring_table(package, 2).to_batches()), package, RUN))


def test_aliases_and_versions_resolve_to_packages(models_dir) -> None:
    assert resolve_package(models_dir).version == "1"
    challenger = resolve_package(models_dir, alias="challenger")
    assert (challenger.version, challenger.task) == ("2", USE_CASE.task)
    cuts = (challenger.review_threshold, challenger.threshold)
    if challenger.task is Task.BINARY:  # its own thresholds: the challenger states 0.3
        assert cuts == (0.3 * 0.75, 0.3)
    else:  # it states none: the use case's policy decides
        policy = USE_CASE.policy.cuts
        assert cuts == ((None, None) if policy is None else (policy.review, policy.decline))
    assert resolve_package(models_dir, version="2").model_sha256 == challenger.model_sha256
    with pytest.raises(BatchInputError, match=r"no model is 'staging'.*pointer: challenger, champion"):
        resolve_package(models_dir, alias="staging")
    with pytest.raises(BatchInputError, match="unknown alias 'nope'"):
        resolve_package(models_dir, alias="nope")
    with pytest.raises(BatchInputError, match="version '9' is not published"):
        resolve_package(models_dir, version="9")
    with pytest.raises(BatchInputError, match="invalid model version"):
        resolve_package(models_dir, version="../1")


def test_a_review_threshold_in_the_package_adds_a_review_band(package) -> None:
    from dataclasses import replace

    from steelthread_batch.scoring import decide
    from steelthread_contracts.decision import Thresholds

    scores = pa.array([0.05, 0.2, 0.3, 0.49, 0.5, 0.9, None], type=pa.float64())
    assert decide(scores, Thresholds(review=0.3, decline=0.5)).to_pylist() == [
        "approve", "approve", "review", "review", "decline", "decline", None,
    ]  # fmt: skip
    table = scoring_table(package, 500, seed=6)
    assert package.threshold is not None
    unbanded = replace(package, review_threshold=package.threshold)
    plain = pa.Table.from_batches(list(score_batches(iter(table.to_batches()), unbanded, RUN)))
    assert "review" not in set(plain.column("decision").to_pylist()), "no band: approve or decline"
    got = plain.column("score").to_numpy()
    band = float(np.quantile(got[got < package.threshold], 0.5))
    banded = replace(package, review_threshold=band)
    result = pa.Table.from_batches(list(score_batches(iter(table.to_batches()), banded, RUN)))
    decisions = np.array(result.column("decision").to_pylist())
    assert (decisions[(got >= band) & (got < package.threshold)] == "review").all()
    assert (decisions[got < band] == "approve").all()
    assert "review" in set(decisions)
