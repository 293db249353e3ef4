"""Stage 2: split by time, never at random.

A random split leaks the future into training (entities reappear, drift is averaged away) and makes the
test score look better than production will be. Rows sharing a timestamp always land on the same side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from steelthread_training.config import SplitConfig
from steelthread_training.errors import TrainingError
from steelthread_training.frame import TIME


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame

    def describe(self) -> dict[str, dict[str, str | int]]:
        out: dict[str, dict[str, str | int]] = {}
        for name in ("train", "validation", "test"):
            part: pd.DataFrame = getattr(self, name)
            out[name] = {
                "rows": len(part),
                "start": part[TIME].min().isoformat(),
                "end": part[TIME].max().isoformat(),
            }
        return out


def time_split(frame: pd.DataFrame, config: SplitConfig) -> Split:
    """Oldest `train` share, then `validation`, then the newest rows as test."""
    if TIME not in frame.columns:
        raise TrainingError(f"cannot split by time: column {TIME!r} is missing")
    ordered = frame.sort_values(TIME, kind="stable").reset_index(drop=True)
    times = ordered[TIME].to_numpy()
    n = len(ordered)
    cut_train = int(np.searchsorted(times, times[min(int(n * config.train), n - 1)], side="left"))
    cut_val_at = min(int(n * (config.train + config.validation)), n - 1)
    cut_val = int(np.searchsorted(times, times[cut_val_at], side="left"))
    parts = (ordered.iloc[:cut_train], ordered.iloc[cut_train:cut_val], ordered.iloc[cut_val:])
    for name, part in zip(("train", "validation", "test"), parts, strict=True):
        if part.empty:
            raise TrainingError(f"time split left the {name} set empty ({n} rows): use more data")
    train, validation, test = (p.reset_index(drop=True) for p in parts)
    return Split(train=train, validation=validation, test=test)
