"""`steelthread-batch score` with the local engine, through the real entry point (subprocesses).

The kill-and-resume test reads the output with Spark too (the session fixture, local[2])."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from batch.conftest import INVALID_EVERY, cli_env, run_cli, scoring_table, start_cli, write_input

from helpers.usecase import JOIN_KEY, USE_CASE
from steelthread_contracts import PredictionLogRecord

NOT_LOGGED = {p.name for p in USE_CASE.personal if p.handling == "drop"}


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
    logged = _logged(result)
    events = [line["event"] for line in logged if line["logger"] == "steelthread_batch"]
    assert events[0] == "batch_started"
    assert events[-1] == "batch_finished"
    done = [line["done"] for line in logged if line.get("event") == "stage"]  # one line per committed part
    assert len(done) >= 3
    assert done == sorted(set(done))
    assert done[-1] == 5000
    assert logged[-1]["rows_in"] == 5000
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
        # the features less those the use case's privacy policy keeps out of the log
        assert set(record.features) == set(package.feature_names) - NOT_LOGGED
        assert record.scores[0].score == record.score


def _ids_by_reader(out: Path, spark: Any) -> dict[str, list[str]]:
    """Request ids of the scores and quarantine folders as four readers see them, read the way each
    reader's users would: DuckDB by glob, pyarrow and pandas by folder, Spark by folder."""
    scores, quarantine = out / "scores", out / "quarantine"
    duck = duckdb.sql(
        f"SELECT request_id FROM read_parquet('{scores}/*.parquet') "
        f"UNION ALL SELECT request_id FROM read_parquet('{quarantine}/*.parquet')"
    ).fetchall()
    arrow = [
        pq.read_table(folder, columns=["request_id"]).column("request_id") for folder in (scores, quarantine)
    ]
    frames = [pd.read_parquet(folder, columns=["request_id"]) for folder in (scores, quarantine)]
    rows = (
        spark.read.parquet(str(scores))
        .select("request_id")
        .unionByName(spark.read.parquet(str(quarantine)).select("request_id"))
    )
    return {
        "duckdb": [row[0] for row in duck],
        "pyarrow": [i for column in arrow for i in column.to_pylist()],
        "pandas": [i for frame in frames for i in frame["request_id"].tolist()],
        "spark": [row["request_id"] for row in rows.collect()],
    }


def _in_flight(out: Path, log: Path) -> list[Path]:
    return [*out.glob("_tmp/*.partial"), *log.glob("_tmp/batch/*/*.partial")]


@pytest.mark.slow
def test_a_killed_run_resumes_into_an_output_every_reader_reads(tmp_path, models_dir, package, spark) -> None:
    """SIGKILL while parts are being written, then the same command again: no part is scored twice, none
    is lost, and DuckDB, pyarrow, pandas and Spark read every input row exactly once (before the fix,
    `.tmp-*` files next to the parts made DuckDB's `read_parquet` fail)."""
    table = scoring_table(package, 240_000, seed=8, bad_every=1_000)
    source = write_input(table, tmp_path / "in", row_group_size=4_000, files=3)
    out, log = tmp_path / "out", tmp_path / "prediction-log"
    # Parts of several Arrow batches each, so a part's files are open for most of the run.
    env = cli_env(tmp_path, models_dir, STEELTHREAD_BATCH_ARROW_ROWS="2000")
    args = ["score", "--input", str(source), "--output", str(out), "--rows-per-part", "20000"]
    process = start_cli(args, env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if len(list((out / "_parts").glob("*.json"))) >= 3 and _in_flight(out, log):
            break
        time.sleep(0.002)
    assert process.poll() is None, "the run finished before it could be killed: make the input larger"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    done_before = len(list((out / "_parts").glob("*.json")))
    assert 3 <= done_before < 12
    assert not (out / "_SUCCESS").exists()
    assert _in_flight(out, log), "the kill must land while a part is being written"
    # Even killed, the folders readers list hold only complete parts.
    [(count, distinct)] = duckdb.sql(
        f"SELECT count(*), count(DISTINCT request_id) FROM '{out}/scores/*.parquet'"
    ).fetchall()
    assert count == distinct > 0

    resumed = run_cli(args, env)
    assert resumed.returncode == 0, resumed.stderr
    assert "rows in=240000 scored=239760 quarantined=240" in resumed.stdout
    assert f"(resumed: {done_before} of 12 parts were already done)" in resumed.stdout
    run_id = json.loads((out / "_run.json").read_text())["run_id"]
    assert not (out / "_tmp").exists()
    assert not (log / "_tmp" / "batch" / run_id).exists()
    leftovers = [p for root in (out, log) for pattern in ("*.partial", ".tmp-*") for p in root.rglob(pattern)]
    assert leftovers == []

    expected = sorted(table.column("request_id").to_pylist())
    for reader, ids in _ids_by_reader(out, spark).items():
        assert len(ids) == len(set(ids)) == 240_000, reader
        assert sorted(ids) == expected, reader
    scored = _ids(out / "scores")
    logged = duckdb.sql(
        f"SELECT request_id FROM read_parquet('{log}/batch/*/*/*.parquet', hive_partitioning = true)"
    ).fetchall()
    assert sorted(row[0] for row in logged) == sorted(_log_rows(log).column("request_id").to_pylist())
    assert sorted(row[0] for row in logged) == sorted(scored)
    assert spark.read.parquet(str(log / "batch")).count() == len(scored) == 239_760

    again = run_cli(args, env)
    assert again.returncode == 0
    assert _ids(out / "scores") == scored


def test_a_resume_removes_temporary_files_an_earlier_version_left_next_to_the_parts(
    tmp_path, models_dir, package
) -> None:
    """Earlier versions wrote `.tmp-*` files beside the parts; a kill left them there for DuckDB to trip
    on. Running the command again over such an output removes them and changes nothing else."""
    source = write_input(scoring_table(package, 500, seed=13), tmp_path / "in")
    out = tmp_path / "out"
    args = ["score", "--input", str(source), "--output", str(out)]
    env = cli_env(tmp_path, models_dir)
    assert run_cli(args, env).returncode == 0
    scored = _ids(out / "scores")
    run_log = next((tmp_path / "prediction-log" / "batch").glob("date=*/run=*"))
    left = [folder / ".tmp-0123456789ab-part-00000.parquet" for folder in (out / "scores", run_log)]
    left.append(out / "_parts" / ".tmp-0123456789ab-part-00000.json")
    for path in left:
        path.write_bytes(b"PAR1 half a part")
    with pytest.raises(duckdb.InvalidInputException):
        duckdb.sql(f"SELECT count(*) FROM '{out}/scores/*.parquet'").fetchall()

    again = run_cli(args, env)
    assert again.returncode == 0, again.stderr
    assert not any(path.exists() for path in left)
    assert duckdb.sql(f"SELECT count(*) FROM '{out}/scores/*.parquet'").fetchall() == [(500,)]
    assert _ids(out / "scores") == scored


def _logged(result) -> list[dict[str, Any]]:
    """stderr's JSON log lines (not a terminal: the machine mode)."""
    return [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]


def _one_error_line(result) -> str:
    # Besides the JSON log lines (a scheduler's record), one readable line.
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("{")]
    _logged(result)  # every other line is one JSON object
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
