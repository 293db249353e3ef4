"""What counts as drift: one definition for the report, summary.json, the gauges, the alert rules and the
runbooks.

- A **column drifted** when its drift distance (normed Wasserstein for numbers, Jensen-Shannon for
  categories) is at least `DRIFT_THRESHOLD`. The report marks exactly those columns "Detected".
- **Input drift** holds when at least one monitored column drifted. The report's headline ("Dataset Drift
  is detected") says the same, because Evidently is given the share one column makes as its dataset-drift
  share; `SteelthreadInputDrift` fires on the same condition (`steelthread_monitor_feature_drift_score`
  at or above the threshold).
- **Prediction drift** is the score's distance at or above the same threshold while no input column
  drifted: a moved score with a moved input is input drift (`SteelthreadPredictionDrift` is suppressed by
  the input-drift condition).

The rule file (infra/prometheus/rules/steelthread-model.yml) writes the threshold as a number; a test
checks it equals `DRIFT_THRESHOLD`, which is the job's default (`--drift-threshold`). A deployment that
changes one changes the other.
"""

from __future__ import annotations

DRIFT_THRESHOLD = 0.1
"""Drift distance from which a column (or the score) counts as drifted."""


def one_column_share(columns: int) -> float:
    """Evidently's dataset-drift share that makes one drifted column of `columns` count as dataset drift
    (Evidently calls a dataset drifted when the drifted share is at least this)."""
    return 1.0 / max(columns, 1)
