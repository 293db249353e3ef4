"""`--reasons`: batch writes each row's reason codes, the same ones serving answers `explain=true` with for
the same package, features and decision (one owner: `steelthread_contracts.explain`); a package that ships
no booster cannot give them, which is one line and an exit code."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from batch.conftest import cli_env, run_cli, scoring_table, write_input
from batch.test_batch_scoring import RUN

from steelthread_batch.columns import REASON_CODES, output_schema
from steelthread_batch.scoring import score_batches
from steelthread_contracts.api import Decision
from steelthread_serving.explain import explanation_for
from steelthread_serving.package import load_package as load_serving_package


def test_batch_reason_codes_are_the_ones_serving_answers(package) -> None:
    explained = package.with_reasons()
    table = scoring_table(explained, 600, seed=21, bad_every=50)
    out = pa.Table.from_batches(
        list(score_batches(iter(table.to_batches(max_chunksize=256)), explained, RUN))
    )
    assert out.schema.equals(output_schema(table.schema, explained))
    refused = pc.is_valid(out.column("quarantine_reason"))
    assert out.filter(refused).column(REASON_CODES).null_count == out.filter(refused).num_rows

    served = load_serving_package(Path(package.directory), ["CPUExecutionProvider"])
    scored = out.filter(pc.invert(refused)).to_pylist()
    adverse = 0
    for row in scored:
        values = {n: row[n] for n in package.feature_names}
        decision = Decision(row["decision"])
        answer = explanation_for(served, values, decision, package.decided_by)
        assert answer is not None
        assert row[REASON_CODES] == [r["code"] for r in answer["reasons"]]
        if decision is Decision.APPROVE:
            assert row[REASON_CODES] == []
        else:
            adverse += 1
            assert 1 <= len(row[REASON_CODES]) <= 4
    assert adverse >= 50


def test_the_cli_writes_reason_codes_and_refuses_a_package_without_a_booster(
    tmp_path, models_dir, package
) -> None:
    source = write_input(scoring_table(package, 300, seed=22), tmp_path / "in")
    env = cli_env(tmp_path, models_dir)
    ok = run_cli(["score", "--input", str(source), "--output", str(tmp_path / "out"), "--reasons"], env)
    assert ok.returncode == 0, ok.stderr
    scores = pq.read_table(tmp_path / "out" / "scores")
    assert REASON_CODES in scores.column_names
    assert scores.column(REASON_CODES).null_count == 0
    assert any(codes for codes in scores.column(REASON_CODES).to_pylist())

    plain = run_cli(["score", "--input", str(source), "--output", str(tmp_path / "plain")], env)
    assert plain.returncode == 0, plain.stderr
    assert REASON_CODES not in pq.read_table(tmp_path / "plain" / "scores").column_names

    refused = run_cli(
        [
            "score",
            "--input",
            str(source),
            "--output",
            str(tmp_path / "no"),
            "--alias",
            "challenger",
            "--reasons",
        ],
        env,
    )
    assert refused.returncode != 0
    lines = [line for line in refused.stderr.splitlines() if line.strip() and not line.startswith("{")]
    assert len(lines) == 1, refused.stderr
    assert lines[0].startswith("error: ")
    assert "ships no booster.txt" in lines[0]
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "no").exists()
