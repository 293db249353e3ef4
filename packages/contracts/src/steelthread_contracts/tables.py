"""Writing and reading a use case's generated tables: the part every data generator shares.

A use case's generator builds its frames (its truth, its drift scenarios); this module writes them in their
fixed Arrow schemas as `<out>/<table>/<table>.parquet` (microsecond UTC timestamps, Spark-readable) plus
`<out>/manifest.json` (each file's sha256, so the same seed can be shown to give the same bytes), and reads
them back. numpy, pandas and pyarrow are imported inside the functions (the `tables` extra): a generator
needs them, serving never imports this module.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

MANIFEST: str = "manifest.json"


def micros(at: datetime) -> int:
    """A timezone-aware time as integer microseconds since the epoch (what the generators draw in)."""
    return int(at.timestamp()) * 1_000_000 + at.microsecond


def utc_series(values: np.ndarray) -> pd.Series:
    """Integer microseconds as a datetime64[us, UTC] column."""
    import pandas as pd

    series: pd.Series = pd.Series(values.astype("datetime64[us]")).dt.tz_localize("UTC")
    return series


def write_tables(
    frames: Mapping[str, pd.DataFrame],
    schemas: Mapping[str, pa.Schema],
    out: Path,
    *,
    seed: int,
    scenario: str | None,
    start: datetime,
    end: datetime,
    drift_start: datetime,
) -> dict[str, Path]:
    """Write every frame in its schema, then the manifest; returns each table's path and the manifest's."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths: dict[str, Path] = {}
    hashes: dict[str, str] = {}
    for name, frame in frames.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.parquet"
        table = pa.Table.from_pandas(frame, schema=schemas[name], preserve_index=False)
        pq.write_table(table.replace_schema_metadata(None), path, compression="zstd", row_group_size=256_000)
        paths[name] = path
        hashes[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest = {
        "seed": seed,
        "scenario": scenario,
        "rows": {name: len(frame) for name, frame in frames.items()},
        "start": start.isoformat(),
        "end": end.isoformat(),
        "drift_start": drift_start.isoformat(),
        "sha256": hashes,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    paths["manifest"] = out / MANIFEST
    return paths


def read_table(data_dir: Path, name: str, tables: Sequence[str]) -> pd.DataFrame:
    """One written table back as pandas (timestamps stay datetime64[us, UTC]); only a known table."""
    import pyarrow.parquet as pq

    if name not in tables:
        raise ValueError(f"unknown table {name!r}; expected one of {', '.join(tables)}")
    frame: pd.DataFrame = pq.read_table(data_dir / name).to_pandas()
    return frame
