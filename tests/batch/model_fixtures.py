"""Published model packages for the batch tests, from the one test factory (`helpers.packages`).

They have the published layout (`versions/<v>/model.onnx`, `package.json`, `smoke.json`, alias pointer
files) so the batch app is exercised exactly as it will be against packages published by training.
"""

from __future__ import annotations

from pathlib import Path

from helpers.packages import MODEL_NAME, make_package
from helpers.packages import publish as point
from helpers.usecase import USE_CASE
from steelthread_features import feature_names


def publish(
    models_dir: Path,
    version: str,
    *,
    names: list[str] | None = None,
    threshold: float = 0.5,
    aliases: tuple[str, ...] = ("champion",),
    seed: int = 0,
    trees: int = 40,
    task: str = USE_CASE.task.value,
    booster: bool = False,
) -> Path:
    """Write `<models_dir>/versions/<version>/` and point the aliases at it; returns the folder.

    The package has the active use case's task unless `task` says otherwise; `threshold` is a binary
    package's own (a package of another task states none); with `booster` the package ships its LightGBM
    model (reason codes, `--reasons`)."""
    folder = make_package(
        models_dir,
        version,
        seed=seed,
        feature_names=names or feature_names(),
        threshold=threshold,
        trees=trees,
        rows=4_000,
        missing=0.05,
        name=MODEL_NAME,
        task=task,
        booster=booster,
    )
    for alias in aliases:
        point(models_dir, alias, version)
    return folder
