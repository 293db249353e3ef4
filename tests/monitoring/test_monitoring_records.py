"""Record hygiene of the job's inputs: `request_id` makes a prediction unique, malformed lines are counted.

The log is written the way serving writes it: `steelthread_serving.sinks.JsonlSink` (JSON lines, rolled
over into several files), a second sink replaying part of it (a spill replayed, a retried write), an older
server's schema-1 line, and lines no server should write but a torn or foreign writer can.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from steelthread_contracts import FeedbackRecord, PredictionLogRecord
from steelthread_contracts.log import LEGACY_ENTITY_FIELD
from steelthread_monitoring.errors import EmptyWindowError, ExitCode
from steelthread_monitoring.job import RunOptions, run_monitoring
from steelthread_monitoring.reference import load_reference
from steelthread_monitoring.summary import Summary
from steelthread_monitoring.synthetic import Deployment
from steelthread_monitoring.window import read_window
from steelthread_serving.sinks import JsonlSink

REPLAYED = 150
FEEDBACK_REPLAYED = 40


def _gauges(path: Path) -> dict[tuple[str, str], float]:
    """(name, input) → value for the record gauges of the textfile."""
    out = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            if "input" in sample.labels:
                out[(sample.name, sample.labels["input"])] = sample.value
    return out


def _lines(folder: Path, glob: str) -> list[str]:
    return [line for p in sorted(folder.glob(glob)) for line in p.read_text().splitlines() if line]


def _malformed_log_lines(good: dict[str, Any], end: datetime) -> list[tuple[bytes, str | None]]:
    """(line, the reason the job must count it for, or None when it lies outside the window)."""

    def variant(name: str, value: object) -> bytes:
        return json.dumps(good | {name: value, "request_id": f"bad-{name}"}).encode()

    without = {k: v for k, v in good.items() if k != "score"} | {"request_id": "no-score"}
    no_id = {k: v for k, v in good.items() if k != "request_id"}
    earlier = (end - timedelta(days=3)).isoformat()
    return [
        (b'{"schema_version": 2, "logged_at": "2026-11-22T11:00:00Z", "request_id": "torn', "invalid_json"),
        (b"[1, 2, 3]", "not_an_object"),
        (json.dumps(without).encode(), "missing:score"),
        (json.dumps(no_id).encode(), "missing:request_id"),
        (variant("score", "high"), "wrong_type:score"),
        (variant("entity_key", "abc"), "wrong_type:entity_key"),
        (variant("logged_at", "yesterday"), "wrong_type:logged_at"),
        (variant("schema_version", "2"), "wrong_type:schema_version"),
        # Malformed, but its logged_at places it in another run's window: not this run's to count.
        (json.dumps(without | {"request_id": "old", "logged_at": earlier}).encode(), None),
    ]


def _serve_log(deployment: Deployment, root: Path, end: datetime) -> tuple[Path, Path, dict[str, int]]:
    """The deployment's records re-written through serving's sinks, with replays and malformed lines."""
    log_dir, feedback_dir = root / "serving-log", root / "serving-feedback"
    records = [
        PredictionLogRecord.model_validate_json(x) for x in _lines(deployment.log_dir, "predictions-*")
    ]
    sink = JsonlSink(log_dir, "predictions", max_bytes=256 << 10)
    for record in records:
        sink.append(record)
    sink.close()
    assert len(list(log_dir.glob("predictions-*.jsonl"))) >= 3, "the log must span several files"

    replay = JsonlSink(log_dir, "predictions", max_bytes=64 << 10)
    for record in records[:REPLAYED]:
        replay.append(record)
    # An older server's schema-1 line for a request already logged: the same prediction again.
    legacy = json.loads(records[REPLAYED].model_dump_json())
    legacy["schema_version"] = 1
    legacy[LEGACY_ENTITY_FIELD[1]] = legacy.pop("entity_key")
    replay.append_json(json.dumps(legacy).encode())
    expected: dict[str, int] = {}
    for line, reason in _malformed_log_lines(json.loads(records[0].model_dump_json()), end):
        replay.append_json(line)
        if reason is not None:
            expected[reason] = expected.get(reason, 0) + 1
    replay.close()

    feedback = [FeedbackRecord.model_validate_json(x) for x in _lines(deployment.feedback_dir, "feedback-*")]
    labels = JsonlSink(feedback_dir, "feedback", max_bytes=32 << 10)
    for record in [*feedback, *feedback[:FEEDBACK_REPLAYED]]:
        labels.append(record)
    labels.append_json(b'{"observed_label": 1, "observed_at": "2026-11-22T10:00:00Z"}')
    labels.append_json(b'{"request_id": "x", "observed_label": 1, "observed_at": ')
    labels.close()
    return log_dir, feedback_dir, expected


def test_duplicates_count_once_and_malformed_records_are_counted_and_reported(
    deployment_factory: Callable[..., Deployment],
    options_for: Callable[..., RunOptions],
    tmp_path: Path,
    window_end: datetime,
) -> None:
    deployment = deployment_factory()
    log_dir, feedback_dir, expected = _serve_log(deployment, tmp_path, window_end)
    reference = load_reference(deployment.reference_path)
    start = window_end - timedelta(hours=24)

    clean = read_window(deployment.log_dir, deployment.feedback_dir, start, window_end, reference)
    served = read_window(log_dir, feedback_dir, start, window_end, reference)
    # Every duplicate counted once: the same rows, values and labels as the log without replays.
    columns = sorted(clean.frame.columns)
    pd.testing.assert_frame_equal(
        served.frame[columns].sort_values("request_id").reset_index(drop=True),
        clean.frame[columns].sort_values("request_id").reset_index(drop=True),
    )
    assert served.log_records.duplicates == REPLAYED + 1
    assert served.log_records.malformed_by_reason == dict(sorted(expected.items()))
    assert served.log_records.malformed == len(expected) == 8
    assert served.feedback_records.duplicates == FEEDBACK_REPLAYED
    assert served.feedback_records.malformed_by_reason == {"invalid_json": 1, "missing:request_id": 1}
    assert (clean.log_records.duplicates, clean.log_records.malformed) == (0, 0)

    options = options_for(deployment, tmp_path, log_dir=log_dir, feedback_dir=feedback_dir)
    outcome = run_monitoring(options)
    summary = Summary.model_validate_json((outcome.run_dir / "summary.json").read_text())
    assert summary.rows == len(clean.frame)
    # A run as of `now` counts the labels that had arrived by then (the synthetic ones come an hour late).
    arrived = read_window(
        deployment.log_dir, deployment.feedback_dir, start, window_end, reference, labels_until=window_end
    )
    assert 0 < arrived.labelled["label"].count() < clean.labelled["label"].count()
    assert summary.performance.labelled_rows == arrived.labelled["label"].count()
    assert summary.prediction_log == served.log_records
    assert summary.feedback == served.feedback_records
    assert summary.prediction_log.malformed_examples[0].startswith(str(log_dir))
    assert ": invalid_json" in summary.prediction_log.malformed_examples[0]
    assert any(m.startswith("8 malformed prediction-log records skipped") for m in summary.messages)
    assert any(m.startswith("2 malformed feedback records skipped") for m in summary.messages)
    assert outcome.exit_code is ExitCode.OK, "counted and reported; the report itself stands"
    assert options.textfile is not None
    assert _gauges(options.textfile) == {
        ("steelthread_monitor_duplicate_records", "predictions"): REPLAYED + 1,
        ("steelthread_monitor_duplicate_records", "feedback"): FEEDBACK_REPLAYED,
        ("steelthread_monitor_malformed_records", "predictions"): 8,
        ("steelthread_monitor_malformed_records", "feedback"): 2,
    }


def test_a_window_of_malformed_records_only_is_empty_and_says_why(
    deployment_factory: Callable[..., Deployment],
    options_for: Callable[..., RunOptions],
    tmp_path: Path,
    window_end: datetime,
) -> None:
    deployment = deployment_factory()
    log_dir = tmp_path / "broken-log"
    sink = JsonlSink(log_dir, "predictions", max_bytes=1 << 20)
    for _ in range(3):
        sink.append_json(b"{not json")
    sink.close()
    options = options_for(deployment, tmp_path, log_dir=log_dir)
    with pytest.raises(EmptyWindowError, match="3 malformed prediction-log records skipped"):
        run_monitoring(options)
    [path] = (tmp_path / "monitoring").glob("2*/summary.json")
    summary = Summary.model_validate_json(path.read_text())
    assert (summary.rows, summary.exit_code) == (0, ExitCode.EMPTY_WINDOW)
    assert summary.prediction_log.malformed_by_reason == {"invalid_json": 3}
    assert options.textfile is not None
    assert _gauges(options.textfile) == {
        ("steelthread_monitor_duplicate_records", "predictions"): 0,
        ("steelthread_monitor_duplicate_records", "feedback"): 0,
        ("steelthread_monitor_malformed_records", "predictions"): 3,
        ("steelthread_monitor_malformed_records", "feedback"): 0,
    }


def test_a_bad_line_deep_in_a_large_file_is_named_by_its_line(
    deployment_factory: Callable[..., Deployment], tmp_path: Path, window_end: datetime
) -> None:
    """A file that fails the fast check is checked again in blocks of lines; line numbers stay the file's."""
    deployment = deployment_factory()
    lines = _lines(deployment.log_dir, "predictions-*")
    log_dir = tmp_path / "large"
    log_dir.mkdir()
    path = log_dir / "predictions-large.jsonl"
    body = [*lines * 4, *lines[:1000]]  # 9,000 lines: the second block starts at line 8,193
    body.insert(8_999, "{torn")
    body.append("[]")
    path.write_text("".join(line + "\n" for line in body))
    window = read_window(
        log_dir,
        None,
        window_end - timedelta(hours=24),
        window_end,
        load_reference(deployment.reference_path),
    )
    assert len(window.frame) == len(lines)
    assert window.log_records.duplicates == 9_000 - len(lines)
    assert window.log_records.malformed_examples == [
        f"{path}:9000: invalid_json",
        f"{path}:9002: not_an_object",
    ]
