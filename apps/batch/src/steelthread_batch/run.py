"""Run identity and the run manifest shared by both engines."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from steelthread_batch.errors import BatchInputError
from steelthread_batch.output import Layout
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


def log_run_location(log_dir: str | None, run_id: str, started_at: datetime) -> Location | None:
    if log_dir is None:
        return None
    return locate(log_dir).child("batch", f"date={started_at:%Y-%m-%d}", f"run={run_id}")


def start_or_resume(
    output: Location, identity: dict[str, Any], log_dir: str | None
) -> tuple[str, datetime, Layout, bool]:
    """A new run, or the unfinished run already in `output` if it was started with the same identity.

    Returns (run_id, started_at, layout, resumed). A finished run or a different job in the same output
    is refused: scores of two runs must never mix in one folder.
    """
    layout = Layout(output, None)
    if layout.run_file.exists():
        previous = layout.run_file.read_json()
        if previous.get("identity") != identity:
            raise BatchInputError(
                f"output {output.uri} holds another run ({previous.get('run_id')}) with a different input, "
                "model or settings; choose a new output folder"
            )
        run_id = str(previous["run_id"])
        started_at = datetime.fromisoformat(previous["started_at"])
        return run_id, started_at, Layout(output, log_run_location(log_dir, run_id, started_at)), True
    if output.exists():
        entries = output.fs.get_file_info(_selector(output))
        if entries:
            raise BatchInputError(f"output {output.uri} exists and is not empty; choose a new output folder")
    started_at = datetime.now(UTC).replace(microsecond=0)
    run_id = new_run_id(started_at)
    layout = Layout(output, log_run_location(log_dir, run_id, started_at))
    output.mkdir()
    layout.run_file.write_json_atomic(
        {"run_id": run_id, "started_at": started_at.isoformat(), "identity": identity}
    )
    return run_id, started_at, layout, False


def _selector(location: Location) -> Any:
    import pyarrow.fs as pafs

    return pafs.FileSelector(location.path, recursive=False)


def package_identity(package: ModelPackage) -> dict[str, str]:
    return {"name": package.name, "version": package.version, "sha256": package.model_sha256}
