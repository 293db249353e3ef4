"""The output layout and the atomic commit of one part.

    <output>/_run.json                 the run: id, time, input fingerprint, model, part plan
    <output>/scores/part-NNNNN.parquet       scored rows (SCORE_COLUMNS)
    <output>/quarantine/part-NNNNN.parquet   refused rows with `quarantine_reason` (only if any)
    <output>/_parts/part-NNNNN.json          written last: the part is complete, with its counts
    <output>/_SUCCESS                  written last of all: totals, in = scored + quarantined
    <output>/_tmp/                     files being written (gone once the run succeeds)
    <log_dir>/batch/date=YYYY-MM-DD/run=<run_id>/part-NNNNN.parquet   prediction-log records
    <log_dir>/_tmp/batch/<run_id>/     prediction-log files being written

Every file is written under a temporary name in a staging folder on the same filesystem and moved
into place. The staging folders are outside every folder a reader lists, and their names end in
`.partial`: DuckDB's globs, unlike pyarrow and Spark, match hidden names, so a temporary file next to
the parts (even `.tmp-*`) breaks `read_parquet('<output>/scores/*.parquet')` after a kill. Names in
place are deterministic per part, so a part retried after a crash replaces its files instead of adding
to them; every attempt starts by discarding the staging folders of the one before.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from queue import Queue

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from steelthread_batch.columns import QUARANTINE_COLUMNS, QUARANTINE_REASON, score_columns
from steelthread_batch.prediction_log import prediction_log_schema, to_prediction_log
from steelthread_batch.storage import Location
from steelthread_contracts.privacy import NO_POLICY, LogPolicy

RUN_FILE = "_run.json"
SUCCESS_FILE = "_SUCCESS"
STAGING_DIR = "_tmp"
LEGACY_TEMP_PREFIX = ".tmp-"
"""Earlier versions wrote temporary files next to their targets under this prefix; a resume removes any."""


@dataclass(frozen=True)
class PartCounts:
    rows_in: int
    scored: int
    quarantined: int


@dataclass(frozen=True)
class Layout:
    root: Location
    log_run: Location | None
    """`<log_dir>/batch/date=.../run=<id>`; None when the prediction log is switched off."""
    log_staging: Location | None
    """`<log_dir>/_tmp/batch/<id>`: where the prediction log's files are written before they move."""

    @property
    def run_file(self) -> Location:
        return self.root.child(RUN_FILE)

    @property
    def success(self) -> Location:
        return self.root.child(SUCCESS_FILE)

    @property
    def staging(self) -> Location:
        return self.root.child(STAGING_DIR)

    def done_marker(self, part: str) -> Location:
        return self.root.child("_parts", f"{part}.json")

    def prepare(self) -> None:
        for sub in ("scores", "quarantine", "_parts", STAGING_DIR):
            self.root.child(sub).mkdir()
        if self.log_run is not None:
            self.log_run.mkdir()
        if self.log_staging is not None:
            self.log_staging.mkdir()

    def discard_temporaries(self) -> None:
        """Remove what an attempt was still writing: the staging folders, and temporary files an earlier
        version left next to the parts. Called before an attempt and after a successful run; a killed
        attempt's files were never moved into place, so nothing they held is lost (the part is redone)."""
        self.staging.remove_dir()
        if self.log_staging is not None:
            self.log_staging.remove_dir()
        folders = [self.root, *(self.root.child(sub) for sub in ("scores", "quarantine", "_parts"))]
        if self.log_run is not None:
            folders.append(self.log_run)
        for folder in folders:
            for file in folder.files():
                if file.name.startswith(LEGACY_TEMP_PREFIX):
                    file.fs.delete_file(file.path)

    def done_counts(self, part: str) -> PartCounts | None:
        marker = self.done_marker(part)
        if not marker.exists():
            return None
        data = marker.read_json()
        return PartCounts(int(data["rows_in"]), int(data["scored"]), int(data["quarantined"]))


def _pick(schema: pa.Schema, names: Sequence[str]) -> pa.Schema:
    return pa.schema([schema.field(n) for n in names])


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """Dictionary-encode only repetitive top-level strings: trying it on float columns (scores, the
    log's features) costs several times the rest of the write (see bench/bench_batch.py)."""
    repetitive = {
        "decision",
        "model_name",
        "model_version",
        "batch_run_id",
        "quarantine_reason",
        "source",
        "mode",
    }
    return [f.name for f in schema if f.name in repetitive]


class _Sink:
    """A parquet file written under a temporary name, moved into place by `commit`."""

    def __init__(self, target: Location, schema: pa.Schema, staging: Location) -> None:
        self.target = target
        self.schema = schema
        self.tmp = target.temp_in(staging)
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if self.writer is None:
            self.writer = pq.ParquetWriter(
                self.tmp.path,
                self.schema,
                filesystem=self.target.fs,
                compression="zstd",
                use_dictionary=_dictionary_columns(self.schema),
            )
        self.writer.write_batch(batch)
        self.rows += batch.num_rows

    def commit(self, keep_empty: bool) -> None:
        if self.writer is None and keep_empty:
            self.write_empty()
        if self.writer is not None:
            self.writer.close()
            self.target.fs.move(self.tmp.path, self.target.path)
        elif self.target.exists():
            # Same input gives the same rows per part, so this cannot happen on a plain resume; never
            # leave a file from another attempt next to a part that has none.
            self.target.fs.delete_file(self.target.path)

    def write_empty(self) -> None:
        self.writer = pq.ParquetWriter(self.tmp.path, self.schema, filesystem=self.target.fs)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.target.fs.delete_file(self.tmp.path)


class _PartWriter:
    """The sinks of one part, fed from a background thread.

    onnxruntime and the parquet writer both release the GIL, so writing batch k overlaps scoring batch
    k+1; the queue is bounded, so memory stays at a few batches.
    """

    def __init__(
        self, layout: Layout, part: str, feature_names: Sequence[str], role: str, policy: LogPolicy
    ) -> None:
        self.layout, self.part, self.feature_names, self.role = layout, part, feature_names, role
        self.policy = policy
        self.sinks: dict[str, _Sink] = {}
        self.rows_in = 0
        self.failure: BaseException | None = None
        self.queue: Queue[pa.RecordBatch | None] = Queue(maxsize=2)
        self.thread = threading.Thread(target=self._drain, name=f"write-{part}", daemon=True)
        self.thread.start()

    def _open(self, schema: pa.Schema) -> None:
        root, staging = self.layout.root, self.layout.staging
        self.sinks["scores"] = _Sink(
            root.child("scores", f"{self.part}.parquet"), _pick(schema, score_columns(schema)), staging
        )
        self.sinks["quarantine"] = _Sink(
            root.child("quarantine", f"{self.part}.parquet"), _pick(schema, QUARANTINE_COLUMNS), staging
        )
        if self.layout.log_run is not None and self.layout.log_staging is not None:
            self.sinks["log"] = _Sink(
                self.layout.log_run.child(f"{self.part}.parquet"),
                prediction_log_schema(schema, self.feature_names, self.policy),
                self.layout.log_staging,
            )

    def _write(self, batch: pa.RecordBatch) -> None:
        if not self.sinks:
            self._open(batch.schema)
        self.rows_in += batch.num_rows
        refused = pc.is_valid(batch.column(QUARANTINE_REASON))
        self.sinks["quarantine"].write(batch.filter(refused).select(list(QUARANTINE_COLUMNS)))
        scored = batch.filter(pc.invert(refused))
        self.sinks["scores"].write(scored.select(list(score_columns(batch.schema))))
        if "log" in self.sinks:
            self.sinks["log"].write(to_prediction_log(batch, self.feature_names, self.role, self.policy))

    def _drain(self) -> None:
        while (batch := self.queue.get()) is not None:
            if self.failure is not None:
                continue  # keep consuming so the producer never blocks
            try:
                self._write(batch)
            except BaseException as exc:
                self.failure = exc

    def put(self, batch: pa.RecordBatch) -> None:
        self.queue.put(batch)

    def finish(self) -> None:
        self.queue.put(None)
        self.thread.join()

    def abort(self) -> None:
        for sink in self.sinks.values():
            sink.abort()


def commit_part(
    layout: Layout,
    part: str,
    scored: Iterator[pa.RecordBatch],
    feature_names: Sequence[str],
    role: str,
    policy: LogPolicy = NO_POLICY,
) -> PartCounts:
    """Write one part's scores, quarantine and prediction log (kept as `policy` says), then its done
    marker."""
    writer = _PartWriter(layout, part, feature_names, role, policy)
    try:
        for batch in scored:
            if writer.failure is not None:
                break
            writer.put(batch)
    except BaseException:
        writer.finish()
        writer.abort()
        raise
    writer.finish()
    if writer.failure is not None:
        writer.abort()
        raise writer.failure
    sinks = writer.sinks
    # Order matters: the scores file and the done marker come last, so a part with a done marker has
    # every file in place, and a part without one is simply redone.
    for key in ("quarantine", "log", "scores"):
        if key in sinks:
            sinks[key].commit(keep_empty=key == "scores")
    counts = PartCounts(
        writer.rows_in,
        sinks["scores"].rows if sinks else 0,
        sinks["quarantine"].rows if sinks else 0,
    )
    layout.done_marker(part).write_json_atomic(
        {"part": part, "rows_in": counts.rows_in, "scored": counts.scored, "quarantined": counts.quarantined},
        layout.staging,
    )
    return counts
