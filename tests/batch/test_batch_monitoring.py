"""The monitoring job reads a real batch run's prediction log (hive-partitioned parquet) through the same
record contract, deduplication and label join as the online log: `steelthread-monitor run --batch-log-dir`.

The run is the batch CLI's own (`steelthread-batch score`) on the active use case's package; the reference is
published beside it from the same model's scores on other requests, and labels arrive as feedback JSON lines
for part of the scored requests.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from batch.conftest import cli_env, run_cli, scoring_table, write_input
from typer.testing import CliRunner

from helpers.packages import MODEL_NAME, onnx_scores, publish_reference
from steelthread_batch.package import ModelPackage
from steelthread_contracts.package import Task
from steelthread_monitoring.cli import app
from steelthread_monitoring.errors import ExitCode
from steelthread_monitoring.reference import LABEL_COLUMN, SCORE_COLUMN

ROWS = 3_000


def _labels(package: ModelPackage, scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Outcomes that follow the model's own scores (so performance is defined for every task)."""
    if package.task is Task.BINARY:
        return (rng.random(len(scores)) < scores).astype(np.int64)
    return scores + rng.normal(0.0, 1.0, len(scores))


def _reference(package: ModelPackage, root: Path) -> Path:
    """A reference-only package of the batch package's model and version, from other requests."""
    table = scoring_table(package, 4_000, seed=12)
    frame = table.select(package.feature_names).to_pandas()
    matrix = frame.to_numpy(dtype=np.float32)
    frame[SCORE_COLUMN] = onnx_scores(package.model_path, matrix, task=package.task.value)
    frame[LABEL_COLUMN] = _labels(package, frame[SCORE_COLUMN].to_numpy(), np.random.default_rng(5))
    publish_reference(
        root,
        package.version,
        frame,
        feature_names=list(package.feature_names),
        task=package.task.value,
        name=MODEL_NAME,
    )
    return root


def _monitor(tmp_path: Path, models: Path, batch_dir: Path, now: datetime, out: str) -> tuple[int, str, dict]:
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--window=1h",
            f"--now={now.isoformat()}",
            "--label-delay=0s",
            f"--log-dir={tmp_path / 'online'}",
            f"--feedback-dir={tmp_path / 'feedback'}",
            f"--batch-log-dir={batch_dir}",
            f"--out={tmp_path / out}",
        ],
        env={"STEELTHREAD_MODELS_DIR": str(models), "STEELTHREAD_DATA_DIR": str(tmp_path / "var")},
        catch_exceptions=False,
    )
    summary_path = tmp_path / out / "latest" / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return result.exit_code, result.output, summary


def test_monitoring_reads_a_batch_runs_prediction_log(tmp_path: Path, models_dir: Path, package) -> None:
    source = write_input(scoring_table(package, ROWS, seed=11), tmp_path / "in", row_group_size=1_000)
    scored = run_cli(
        ["score", "--input", str(source), "--output", str(tmp_path / "out"), "--rows-per-part", "1000"],
        cli_env(tmp_path, models_dir),
    )
    assert scored.returncode == 0, scored.stderr
    now = datetime.now(UTC) + timedelta(minutes=1)
    batch_dir = tmp_path / "prediction-log" / "batch"
    parts = sorted(batch_dir.glob("date=*/run=*/*.parquet"))
    assert len(parts) == 3
    log = pd.concat([pq.read_table(p).to_pandas() for p in parts])
    rng = np.random.default_rng(8)
    labelled = log.sample(n=1_200, random_state=3)
    (tmp_path / "feedback").mkdir()
    (tmp_path / "online").mkdir()
    pd.DataFrame(
        {
            "request_id": labelled["request_id"],
            "observed_label": _labels(package, labelled["score"].to_numpy(), rng),
            "observed_at": (now - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
    ).to_json(tmp_path / "feedback" / "feedback-batch.jsonl", orient="records", lines=True)
    models = _reference(package, tmp_path / "reference-models")

    code, output, summary = _monitor(tmp_path, models, batch_dir, now, "monitoring")
    assert code == ExitCode.OK, output
    assert summary["rows"] == ROWS
    assert sorted(summary["log_files"]) == sorted(map(str, parts))
    assert summary["model_version"] == package.version
    assert summary["drift"]["prediction_score"] is not None  # the batch scores are the reference version's
    performance = summary["performance"]
    assert (performance["cohort_rows"], performance["labelled_rows"]) == (ROWS, 1_200)
    assert performance["label_coverage"] == 1_200 / ROWS
    assert performance["evaluated"], performance["reason"]
    assert summary["prediction_log"] == {
        "duplicates": 0,
        "malformed": 0,
        "malformed_by_reason": {},
        "malformed_examples": [],
    }

    # The same part copied into another run's folder counts once; a part whose rows lack a required field
    # is counted row by row, never dropped silently.
    copy = batch_dir / parts[0].parent.parent.name / "run=copied" / parts[0].name
    copy.parent.mkdir(parents=True)
    shutil.copy(parts[0], copy)
    bad = pq.read_table(parts[1])
    ids = pc.binary_join_element_wise(bad.column("request_id"), pa.scalar("-bad"), pa.scalar(""))
    bad = bad.set_column(bad.schema.get_field_index("request_id"), "request_id", ids)
    decision = pa.array([None, None, None, *bad.column("decision").to_pylist()[3:]], pa.string())
    bad = bad.set_column(bad.schema.get_field_index("decision"), "decision", decision)
    broken = batch_dir / parts[1].parent.parent.name / "run=broken" / parts[1].name
    broken.parent.mkdir(parents=True)
    pq.write_table(bad, broken)

    code, output, summary = _monitor(tmp_path, models, batch_dir, now, "again")
    assert code == ExitCode.OK, output
    copied_rows = pq.read_metadata(parts[0]).num_rows
    assert summary["rows"] == ROWS + bad.num_rows - 3
    records = summary["prediction_log"]
    assert records["duplicates"] == copied_rows
    assert (records["malformed"], records["malformed_by_reason"]) == (3, {"missing:decision": 3})
    assert records["malformed_examples"][0] == f"{broken}:row 1: missing:decision"
    assert "3 malformed prediction-log records skipped" in output

    # A part whose column has another type than the contract's is refused by name: every row shares it.
    score_as_text = bad.set_column(
        bad.schema.get_field_index("score"), "score", pc.cast(bad.column("score"), pa.string())
    )
    pq.write_table(score_as_text, broken)
    code, output, _ = _monitor(tmp_path, models, batch_dir, now, "refused")
    assert code == ExitCode.INVALID_INPUT, output
    assert f"{broken}: column score is string, not the contract's number" in " ".join(output.split())
