"""Run identity and the run manifest shared by both engines."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from steelthread_batch.errors import BatchInputError
from steelthread_batch.output import STAGING_DIR, Layout
from steelthread_batch.package import ModelPackage
from steelthread_batch.storage import Location, locate


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    output: str
    prediction_log: str | None
    rows_in: int
    scored: int
    quarantined: int
    parts: int
    parts_resumed: int
    model_version: str
    engine: str
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def run_layout(output: Location, log_dir: str | None, run_id: str, started_at: datetime) -> Layout:
    """The run's folders; the prediction log's staging folder lies outside `<log_dir>/batch`, which
    readers scan recursively (see steelthread_batch.output)."""
    if log_dir is None:
        return Layout(output, None, None)
    log = locate(log_dir)
    return Layout(
        output,
        log.child("batch", f"date={started_at:%Y-%m-%d}", f"run={run_id}"),
        log.child(STAGING_DIR, "batch", run_id),
    )


def start_or_resume(
    output: Location, identity: dict[str, Any], log_dir: str | None
) -> tuple[str, datetime, Layout, bool]:
    """A new run, or the unfinished run already in `output` if it was started with the same identity.

    Returns (run_id, started_at, layout, resumed). A different job in the same output is refused: scores
    of two runs must never mix in one folder. A resumed run first discards what the killed attempt was
    still writing, so nothing half-written is ever visible to a reader of the output.
    """
    layout = Layout(output, None, None)
    if layout.run_file.exists():
        previous = layout.run_file.read_json()
        if previous.get("identity") != identity:
            raise BatchInputError(
                f"output {output.uri} holds another run ({previous.get('run_id')}) with a different input, "
                "model or settings; choose a new output folder"
            )
        run_id = str(previous["run_id"])
        started_at = datetime.fromisoformat(previous["started_at"])
        layout = run_layout(output, log_dir, run_id, started_at)
        layout.discard_temporaries()
        return run_id, started_at, layout, True
    if output.exists():
        entries = output.fs.get_file_info(_selector(output))
        if entries:
            raise BatchInputError(f"output {output.uri} exists and is not empty; choose a new output folder")
    started_at = datetime.now(UTC).replace(microsecond=0)
    run_id = new_run_id(started_at)
    layout = run_layout(output, log_dir, run_id, started_at)
    output.mkdir()
    layout.run_file.write_json_atomic(
        {"run_id": run_id, "started_at": started_at.isoformat(), "identity": identity}, layout.staging
    )
    return run_id, started_at, layout, False


def _selector(location: Location) -> Any:
    import pyarrow.fs as pafs

    return pafs.FileSelector(location.path, recursive=False)


def package_identity(package: ModelPackage) -> dict[str, str]:
    return {"name": package.name, "version": package.version, "sha256": package.model_sha256}
