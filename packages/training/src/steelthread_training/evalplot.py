"""The evaluation store's comparison as a picture: the primary metric of each version on each dataset."""

from __future__ import annotations

import numpy as np
import pandas as pd

from steelthread_training.plots import _figure, _png


def compare_plot(table: pd.DataFrame, metric: str) -> bytes:
    """Grouped bars, one group per dataset (oldest first) and one bar per version, as PNG bytes.

    `table` has columns dataset, version and `metric` (`steelthread-eval compare`'s rows)."""
    fig, ax = _figure()
    datasets = list(dict.fromkeys(table["dataset"]))
    versions = sorted(dict.fromkeys(table["version"]), key=lambda v: (len(v), v))
    width = 0.8 / max(len(versions), 1)
    x = np.arange(len(datasets))
    for i, version in enumerate(versions):
        mine = table[table["version"] == version].set_index("dataset")[metric]
        heights = [float(mine.get(d, np.nan)) for d in datasets]
        ax.bar(x + i * width - 0.4 + width / 2, heights, width, label=f"v{version}")  # type: ignore[attr-defined]
    ax.set_xticks(x, datasets, rotation=20, ha="right", fontsize=7)  # type: ignore[attr-defined]
    ax.set_ylabel(metric)  # type: ignore[attr-defined]
    ax.set_title(f"{metric} of every version on the same datasets")  # type: ignore[attr-defined]
    ax.legend(fontsize=7)  # type: ignore[attr-defined]
    return _png(fig)
