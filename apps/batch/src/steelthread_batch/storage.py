"""Paths and URIs (local folders or object storage) through one pyarrow filesystem interface."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from steelthread_batch.errors import BatchInputError


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

    def read_json(self) -> Any:
        with self.fs.open_input_stream(self.path) as stream:
            return json.loads(stream.read().decode())

    def write_json_atomic(self, data: Any) -> None:
        """Write to a hidden temporary name next to the target, then move it into place."""
        tmp = self.sibling_tmp()
        with self.fs.open_output_stream(tmp.path) as stream:
            stream.write((json.dumps(data, indent=2, default=str) + "\n").encode())
        self.fs.move(tmp.path, self.path)

    def sibling_tmp(self) -> Location:
        parent, _, name = self.path.rpartition("/")
        tmp = f"{parent}/.tmp-{uuid.uuid4().hex[:12]}-{name}"
        return Location(tmp, self.fs, tmp)

    def mkdir(self) -> None:
        self.fs.create_dir(self.path, recursive=True)

    def write_parquet_atomic(self, table: pa.Table) -> None:
        tmp = self.sibling_tmp()
        pq.write_table(table, tmp.path, filesystem=self.fs, compression="zstd")
        self.fs.move(tmp.path, self.path)


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
