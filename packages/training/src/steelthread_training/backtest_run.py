"""The staleness backtest wired to the generator, Feast and MLflow (`steelthread-train backtest`).

The history is the use case's own generator, seeded, written to a temporary folder with its own Feast
repo (the training data under `data_dir` is left alone); the frame is built through the feature service,
point in time, as a training run builds it. The result is logged to MLflow as a run of its own (tag
`steelthread.run_kind=backtest`): the table, the decay plot, the JSON and the metric per model age.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pandas as pd

from steelthread_training.backtest import Backtest, alert_age, backtest, decay_plot, with_label_times
from steelthread_training.config import load_config
from steelthread_training.frame import REQUEST_ID, SPEC, TIME, USE_CASE
from steelthread_training.settings import TrainingSettings
from steelthread_training.tracking import Registry, quiet


def run_backtest(
    settings: TrainingSettings,
    *,
    rows: int,
    days: int,
    seed: int,
    trained_at: datetime | None,
    train_share: float,
    window_days: int,
    on_note: Callable[[str], None] | None = None,
) -> Backtest:
    from dataclasses import replace

    from steelthread_features import generator
    from steelthread_training.dataset import build_training_set
    from steelthread_training.pipeline import generate_data

    config = load_config(settings.training_config)
    registry = Registry(settings)  # fail fast on an unreachable store, before the history is built
    with tempfile.TemporaryDirectory(prefix="steelthread-backtest-") as tmp:
        history = settings.model_copy(
            update={"tables_dir": Path(tmp) / "data", "feast_dir": Path(tmp) / "feast"}
        )
        generate_data(history, rows, seed, days=days)
        if on_note is not None:
            on_note(f"generated {rows:,} {USE_CASE.tables.events} over {days} days (seed {seed})")
        data = build_training_set(history, slice_options=config.slices.options)
        labels = generator.read(history.tables_dir, USE_CASE.tables.labels)
    frame = with_label_times(data.frame, labels, REQUEST_ID, USE_CASE.tables.label_time)
    if trained_at is None:
        first, last = frame[TIME].min(), frame[TIME].max()
        at = (first + (last - first) * train_share).to_pydatetime()
    else:
        at = trained_at
    result = backtest(frame, config, seed, trained_at=at, window_days=window_days, spec=SPEC)
    result = replace(result, use_case=USE_CASE.name, model_name=registry.model_name)
    log_backtest(registry, result, rows=rows, days=days)
    return result


def log_backtest(registry: Registry, result: Backtest, *, rows: int, days: int) -> str:
    """One MLflow run: the decay table and plot, the JSON, the metric per age (step = days), the alert age."""
    import mlflow

    mlflow.set_tracking_uri(registry.uri)
    age = alert_age(result)
    name = f"staleness-backtest-{result.window_days}d-windows-seed{result.seed}"
    with quiet(), mlflow.start_run(experiment_id=registry.experiment_id(), run_name=name) as run:
        mlflow.set_tags(
            {
                "steelthread.run_kind": "backtest",
                "use_case": result.use_case,
                "alert_age_basis": age.basis,
            }
        )
        mlflow.log_params(
            {
                "rows": rows,
                "days": days,
                "seed": result.seed,
                "window_days": result.window_days,
                "trained_at": result.trained_at,
                "train_rows": result.train_rows,
                "floor": result.floor,
            }
        )
        for window in result.windows:
            if pd.notna(window.value):
                mlflow.log_metric(f"backtest.{result.metric}", window.value, step=int(window.age_days))
        mlflow.log_metric("alert_age_days", float(age.days))
        mlflow.log_text(result.table().to_csv(index=False), "backtest/decay.csv")
        mlflow.log_text(result.to_json(), "backtest/backtest.json")
        with tempfile.TemporaryDirectory(prefix="steelthread-backtest-plot-") as tmp:
            plot = Path(tmp) / "decay.png"
            plot.write_bytes(decay_plot(result))
            mlflow.log_artifact(str(plot), "backtest")
        return str(run.info.run_id)
