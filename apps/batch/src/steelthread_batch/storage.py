"""Paths and URIs (local folders or object storage) through one pyarrow filesystem interface."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from steelthread_batch.errors import BatchInputError

PARTIAL_SUFFIX = ".partial"
"""Ends every temporary file's name; no reader's `*.parquet` pattern matches it."""


@dataclass(frozen=True)
class Location:
    """A folder on some filesystem: `uri` as given, `path` inside `fs`."""

    uri: str
    fs: pafs.FileSystem
    path: str

    def child(self, *parts: str) -> Location:
        path = "/".join([self.path.rstrip("/"), *parts])
        uri = "/".join([self.uri.rstrip("/"), *parts])
        return Location(uri, self.fs, path)

    def exists(self) -> bool:
        return bool(self.fs.get_file_info(self.path).type != pafs.FileType.NotFound)

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rpartition("/")[2]

    def read_json(self) -> Any:
        with self.fs.open_input_stream(self.path) as stream:
            return json.loads(stream.read().decode())

    def temp_in(self, staging: Location) -> Location:
        """A fresh temporary name for this file inside `staging`, a folder no reader of the output scans.

        The name ends in PARTIAL_SUFFIX, never `.parquet`: DuckDB's globs match hidden names too, so a
        half-written file must be neither in the folders readers list nor named like a part.
        """
        return staging.child(f"{self.name}.{uuid.uuid4().hex[:12]}{PARTIAL_SUFFIX}")

    def write_json(self, data: Any) -> None:
        with self.fs.open_output_stream(self.path) as stream:
            stream.write((json.dumps(data, indent=2, default=str) + "\n").encode())

    def write_json_atomic(self, data: Any, staging: Location) -> None:
        """Write to a temporary name in `staging` (same filesystem), then move it into place."""
        staging.mkdir()
        tmp = self.temp_in(staging)
        tmp.write_json(data)
        self.fs.move(tmp.path, self.path)

    def mkdir(self) -> None:
        self.fs.create_dir(self.path, recursive=True)

    def remove_dir(self) -> None:
        """Delete this folder and everything in it; nothing when it does not exist."""
        if self.exists():
            self.fs.delete_dir(self.path)

    def files(self) -> list[Location]:
        """The files directly in this folder (none when it does not exist)."""
        if not self.exists():
            return []
        entries = self.fs.get_file_info(pafs.FileSelector(self.path, recursive=False))
        return [self.child(e.base_name) for e in entries if e.type == pafs.FileType.File]


def locate(uri: str) -> Location:
    """A Location for a local path or a URI pyarrow understands (s3://, gs://, file://...)."""
    if "://" in uri:
        # Spark's Hadoop connector says s3a:// where pyarrow says s3://; the Location keeps the URI as
        # given (for Spark) and opens the same bucket through pyarrow.
        arrow_uri = "s3://" + uri.removeprefix("s3a://") if uri.startswith("s3a://") else uri
        try:
            fs, path = pafs.FileSystem.from_uri(arrow_uri)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, ValueError) as exc:
            raise BatchInputError(f"cannot open {uri}: {' '.join(str(exc).split())}") from None
        return Location(uri, fs, path)
    absolute = str(Path(uri).resolve())
    return Location(absolute, pafs.LocalFileSystem(), absolute)
