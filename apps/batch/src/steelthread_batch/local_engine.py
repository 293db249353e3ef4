"""The embedded engine: one process, parquet streamed through the scorer part by part.

This is the default because on one machine it is the fastest path (no JVM, no Arrow hand-off between
processes); memory is bounded by one Arrow batch (one part when features are joined).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from steelthread_batch.columns import ENTITY_KEY, REQUEST_FIELDS, REQUEST_ID
from steelthread_batch.errors import BatchInputError
from steelthread_batch.inputs import (
    check_schema,
    event_time_column,
    input_fingerprint,
    open_input,
    part_batches,
    plan_parts,
)
from steelthread_batch.output import PartCounts, commit_part
from steelthread_batch.package import ModelPackage
from steelthread_batch.run import RunSummary, package_identity, start_or_resume
from steelthread_batch.scoring import RunInfo, scorer
from steelthread_batch.storage import locate
from steelthread_contracts.privacy import NO_POLICY, LogPolicy

if TYPE_CHECKING:
    from steelthread_features.settings import FeatureSettings


@dataclass(frozen=True)
class LocalJob:
    input_uri: str
    output_uri: str
    package: ModelPackage
    role: str
    prediction_log_dir: str | None
    rows_per_part: int = 500_000
    batch_rows: int = 65_536
    threads: int = 0
    device: str = "cpu"
    feature_settings: FeatureSettings | None = None
    log_policy: LogPolicy = NO_POLICY
    """What the prediction log keeps of personal fields (steelthread_contracts.privacy)."""


Progress = Callable[[int, int], None]
"""Called with (rows done, rows total) after each part."""


def run_local(job: LocalJob, progress: Progress | None = None) -> RunSummary:
    started = time.perf_counter()
    source = locate(job.input_uri)
    dataset = open_input(source)
    join = check_schema(dataset.schema, job.package.feature_names)
    parts = plan_parts(dataset, job.rows_per_part)
    total = sum(p.rows for p in parts)
    if total == 0:
        raise BatchInputError(f"input {job.input_uri} has no rows")
    identity = {
        "engine": "local",
        "input": source.uri,
        "files": input_fingerprint(dataset),
        "model": package_identity(job.package),
        "rows_per_part": job.rows_per_part,
        "join": join,
        "device": job.device,
    }
    run_id, started_at, layout, _ = start_or_resume(locate(job.output_uri), identity, job.prediction_log_dir)
    if layout.success.exists():
        return _summary(layout.success.read_json(), time.perf_counter() - started)
    layout.prepare()
    run = RunInfo(run_id=run_id, started_at=started_at, threads=job.threads, device=job.device)
    score = scorer(job.package, run)
    columns = _input_columns(dataset.schema, job.package.feature_names, join)
    counts: list[PartCounts] = []
    resumed = 0
    done_rows = 0
    for part in parts:
        previous = layout.done_counts(part.name)
        if previous is not None:
            resumed += 1
            counts.append(previous)
        else:
            batches = part_batches(dataset, part, columns, job.batch_rows)
            if join:
                batches = _joined(batches, job)
            counts.append(
                commit_part(
                    layout, part.name, score(batches), job.package.feature_names, job.role, job.log_policy
                )
            )
        if counts[-1].rows_in != part.rows:
            raise BatchInputError(
                f"{part.name}: read {counts[-1].rows_in} rows but the input plan says {part.rows}; "
                "did the input change during the run?"
            )
        done_rows += part.rows
        if progress is not None:
            progress(done_rows, total)
    summary = RunSummary(
        run_id=run_id,
        output=layout.root.uri,
        prediction_log=layout.log_run.uri if layout.log_run else None,
        rows_in=sum(c.rows_in for c in counts),
        scored=sum(c.scored for c in counts),
        quarantined=sum(c.quarantined for c in counts),
        parts=len(parts),
        parts_resumed=resumed,
        model_version=job.package.version,
        engine="local",
        seconds=round(time.perf_counter() - started, 3),
    )
    if summary.rows_in != summary.scored + summary.quarantined or summary.rows_in != total:
        raise BatchInputError(
            f"row accounting failed: in={summary.rows_in} (planned {total}) "
            f"scored={summary.scored} quarantined={summary.quarantined}"
        )
    layout.success.write_json_atomic(summary.as_json(), layout.staging)
    layout.discard_temporaries()
    return summary


def _summary(data: dict[str, object], seconds: float) -> RunSummary:
    fields = dict(data)
    fields["seconds"] = round(seconds, 3)
    return RunSummary(**fields)  # type: ignore[arg-type]


def _input_columns(schema: pa.Schema, feature_names: tuple[str, ...], join: bool) -> list[str]:
    wanted = [REQUEST_ID, ENTITY_KEY, event_time_column(schema)]
    wanted += [n for n in REQUEST_FIELDS if n in schema.names]
    if not join:
        wanted += [n for n in feature_names if n not in wanted]
    return wanted


def _joined(batches: Iterator[pa.RecordBatch], job: LocalJob) -> Iterator[pa.RecordBatch]:
    from steelthread_batch.join import join_features

    table = pa.Table.from_batches(list(batches))
    joined = join_features(table, job.package.feature_names, job.feature_settings)
    yield from joined.to_batches(max_chunksize=job.batch_rows)
