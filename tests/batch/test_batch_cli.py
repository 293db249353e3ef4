"""`steelthread-batch score` with the local engine, through the real entry point (subprocesses)."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from batch.conftest import INVALID_EVERY, cli_env, run_cli, scoring_table, start_cli, write_input

from helpers.usecase import JOIN_KEY
from steelthread_contracts import PredictionLogRecord


def _ids(folder: Path) -> list[str]:
    if not folder.exists() or not any(folder.glob("*.parquet")):
        return []
    return (
        ds.dataset(folder, format="parquet").to_table(columns=["request_id"]).column("request_id").to_pylist()
    )


def _log_rows(log_root: Path) -> pa.Table:
    return ds.dataset(log_root / "batch", format="parquet", partitioning="hive").to_table()


def test_score_writes_scores_quarantine_and_prediction_log(tmp_path, models_dir, package) -> None:
    table = scoring_table(package, 5_000, seed=7, bad_every=50)
    source = write_input(table, tmp_path / "in", row_group_size=1_000, files=2)
    env = cli_env(tmp_path, models_dir)
    result = run_cli(
        ["score", "--input", str(source), "--output", str(tmp_path / "out"), "--rows-per-part", "2000"], env
    )
    assert result.returncode == 0, result.stderr
    assert "rows in=5000 scored=4900 quarantined=100 model=1 engine=local" in result.stdout
    out = tmp_path / "out"
    success = json.loads((out / "_SUCCESS").read_text())
    assert (success["rows_in"], success["scored"], success["quarantined"]) == (5_000, 4_900, 100)
    scored, refused = _ids(out / "scores"), _ids(out / "quarantine")
    assert sorted(scored + refused) == sorted(table.column("request_id").to_pylist())
    quarantine = pq.read_table(out / "quarantine")
    assert set(quarantine.column("quarantine_reason").to_pylist()) == {f"invalid_value:{INVALID_EVERY.name}"}

    log = _log_rows(tmp_path / "prediction-log")
    assert log.num_rows == 4_900
    assert set(log.column("run").to_pylist()) == {success["run_id"]}
    contract = set(PredictionLogRecord.model_fields)
    assert contract <= set(log.column_names)
    for row in log.select(sorted(contract)).slice(0, 50).to_pylist():
        record = PredictionLogRecord.model_validate(row)
        assert record.source == "batch"
        assert record.model_version == "1"
        assert set(record.features) == set(package.feature_names)
        assert record.scores[0].score == record.score


def test_a_killed_run_resumes_without_duplicates_or_gaps(tmp_path, models_dir, package) -> None:
    table = scoring_table(package, 240_000, seed=8, bad_every=1_000)
    source = write_input(table, tmp_path / "in", row_group_size=4_000, files=3)
    out = tmp_path / "out"
    env = cli_env(tmp_path, models_dir)
    args = ["score", "--input", str(source), "--output", str(out), "--rows-per-part", "4000"]
    process = start_cli(args, env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if len(list((out / "_parts").glob("*.json"))) >= 3:
            break
        time.sleep(0.005)
    assert process.poll() is None, "the run finished before it could be killed: make the input larger"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    done_before = len(list((out / "_parts").glob("*.json")))
    assert 3 <= done_before < 60
    assert not (out / "_SUCCESS").exists()

    resumed = run_cli(args, env)
    assert resumed.returncode == 0, resumed.stderr
    assert "rows in=240000 scored=239760 quarantined=240" in resumed.stdout
    assert "already done" in resumed.stdout
    scored, refused = _ids(out / "scores"), _ids(out / "quarantine")
    assert len(scored) == len(set(scored)) == 239_760
    assert sorted(scored + refused) == sorted(table.column("request_id").to_pylist())
    logged = _log_rows(tmp_path / "prediction-log").column("request_id").to_pylist()
    assert sorted(logged) == sorted(scored)
    leftovers = [p for p in out.rglob(".tmp-*")] + list((tmp_path / "prediction-log").rglob(".tmp-*"))
    assert len(leftovers) <= 3, "at most the files of the one part in flight at the kill"

    again = run_cli(args, env)
    assert again.returncode == 0
    assert _ids(out / "scores") == scored


def _one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing_column", f"input is missing column {JOIN_KEY!r}"),
        ("wrong_type", f"input column {INVALID_EVERY.name!r} must be number, got string"),
        ("unknown_alias", "unknown alias 'nope'"),
        ("unreadable", "cannot read input"),
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing_complete(
    tmp_path, models_dir, package, case, message
) -> None:
    table = scoring_table(package, 100, seed=9)
    if case == "missing_column":
        table = table.drop_columns([JOIN_KEY])
    if case == "wrong_type":
        index = table.schema.get_field_index(INVALID_EVERY.name)
        table = table.set_column(index, INVALID_EVERY.name, pa.array([str(v) for v in range(100)]))
    source = write_input(table, tmp_path / "in")
    if case == "unreadable":
        source = tmp_path / "no-such-folder"
    args = ["score", "--input", str(source), "--output", str(tmp_path / "out")]
    if case == "unknown_alias":
        args += ["--alias", "nope"]
    line = _one_error_line(run_cli(args, cli_env(tmp_path, models_dir)))
    assert message in line
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "prediction-log").exists()


def test_an_output_holding_another_run_is_refused(tmp_path, models_dir, package) -> None:
    env = cli_env(tmp_path, models_dir)
    first = write_input(scoring_table(package, 50, seed=10), tmp_path / "a")
    second = write_input(scoring_table(package, 60, seed=11), tmp_path / "b")
    out = str(tmp_path / "out")
    assert run_cli(["score", "--input", str(first), "--output", out], env).returncode == 0
    line = _one_error_line(run_cli(["score", "--input", str(second), "--output", out], env))
    assert "holds another run" in line


def test_cuda_without_pytorch_is_one_clear_line(tmp_path, binary_dir, binary_package) -> None:
    """`--device cuda` scores binary packages (a regression one is refused first: test_batch_tasks)."""
    source = write_input(scoring_table(binary_package, 10, seed=12), tmp_path / "in")
    args = ["score", "--input", str(source), "--output", str(tmp_path / "out"), "--device", "cuda"]
    line = _one_error_line(run_cli(args, cli_env(tmp_path, binary_dir)))
    assert "--device cuda needs PyTorch" in line
    assert not (tmp_path / "out").exists()
