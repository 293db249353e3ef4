"""What the serving image installs, read from uv.lock the way `uv sync --package steelthread-serving
--extra cpu --extra explain --no-dev` resolves it: no Feast, pandas, MLflow, Evidently or training
libraries; LightGBM only through the `explain` extra (explanations from a package's booster).

`test_serving_imports.py` checks what a running server imports; this checks what its image would carry.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

LOCK = Path(__file__).resolve().parents[2] / "uv.lock"
FORBIDDEN = {
    "feast",
    "pandas",
    "pyarrow",
    "dask",
    "duckdb",
    "sqlalchemy",
    "mlflow",
    "evidently",
    "scikit-learn",
    "lightgbm",
    "pyspark",
    "steelthread-training",
}


def closure(root: str, extras: set[str]) -> set[str]:
    """Every package `root` (with `extras`) pulls in, extras of each edge followed, dev groups left out.
    Environment markers are ignored, so this over-approximates: an absent package is absent for sure."""
    packages = {p["name"]: p for p in tomllib.loads(LOCK.read_text())["package"]}
    seen: set[tuple[str, str | None]] = set()
    names: set[str] = set()
    todo: list[tuple[str, str | None]] = [(root, None), *((root, e) for e in extras)]
    while todo:
        name, extra = todo.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        names.add(name)
        package = packages[name]
        edges = package.get("dependencies", []) if extra is None else package["optional-dependencies"][extra]
        for edge in edges:
            todo.append((edge["name"], None))
            todo.extend((edge["name"], e) for e in edge.get("extra", []))
    return names


EXPLAIN_BRINGS = {"lightgbm", "scipy", "narwhals"}
"""What the `explain` extra adds to the image: LightGBM and what it requires (scipy, narwhals)."""


@pytest.mark.parametrize("extra", ["cpu", "gpu"])
def test_the_serving_image_carries_no_feast_pandas_mlflow_or_evidently(extra: str) -> None:
    installed = closure("steelthread-serving", {extra})
    assert {"fastapi", "uvicorn", "steelthread-features", "redis", "protobuf"} <= installed
    assert "onnxruntime" + ("-gpu" if extra == "gpu" else "") in installed
    assert installed & FORBIDDEN == set()
    explained = closure("steelthread-serving", {extra, "explain"})
    assert explained - installed == EXPLAIN_BRINGS
    assert explained & FORBIDDEN == {"lightgbm"}


def test_the_closure_follows_extras() -> None:
    # The training package asks for steelthread-features[feast]: the walk must find Feast through it.
    assert {"feast", "pandas", "mlflow"} <= closure("steelthread-training", set())
