"""The whole training run: build, validate, open the registry, split, train, evaluate, export, gate, log.

Each stage is a pure function elsewhere in the package; this module only wires them to settings, the
feature store and MLflow, and times them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from steelthread_training.candidate import Candidate, fit_candidate
from steelthread_training.config import TrainingConfig, load_config
from steelthread_training.dataset import TrainingSet, build_training_set
from steelthread_training.frame import SERVICE
from steelthread_training.promotion import Move, compare_with_champion, register_challenger
from steelthread_training.provenance import git_sha, lockfile_sha256
from steelthread_training.run_log import Registered, log_and_register
from steelthread_training.settings import TrainingSettings
from steelthread_training.timing import StageTimer
from steelthread_training.tracking import Registry
from steelthread_training.validation import ValidationReport, raise_if_invalid, validate_frame

STAGES = ("build", "validate", "registry", "split", "tune", "train", "evaluate", "export", "gate", "log")


@dataclass(frozen=True)
class TrainingOutcome:
    candidate: Candidate
    validation: ValidationReport
    registered: Registered
    challenger: Move | None
    fingerprint: str
    seconds: dict[str, float] = field(default_factory=dict)


def generate_data(settings: TrainingSettings, rows: int, seed: int, days: int | None = None) -> Path:
    """Write the deterministic synthetic data set (`days` of history; default the generator's) and
    register the feature repo for it."""
    from steelthread_features import generator, store

    out = settings.tables_dir
    days = generator.DEFAULT_DAYS if days is None else days
    data = generator.generate(rows, seed=seed, days=days)
    generator.write(data, out)
    store.apply(settings.feature_settings())
    return out


def run_training(
    settings: TrainingSettings,
    *,
    config: TrainingConfig | None = None,
    rows: int | None = None,
    seed: int | None = None,
    labels_as_of: datetime | None = None,
    timer: StageTimer | None = None,
    on_note: Callable[[str], None] | None = None,
    training_set: TrainingSet | None = None,
    tune: bool = False,
) -> TrainingOutcome:
    """Train, gate, register; publish as challenger when the gate passed. `tune`: search LightGBM's
    parameters first (training.yaml's `tuning`), each trial logged as a child run."""
    config = config or load_config(settings.training_config)
    seed = settings.seed if seed is None else seed
    timer = timer or StageTimer()
    with timer.stage("build"):
        data = training_set or build_training_set(
            settings,
            rows=rows,
            labels_as_of=labels_as_of,
            slice_options=config.slices.options,
            on_note=on_note,
        )
    with timer.stage("validate"):
        report = validate_frame(data.frame, config.validation, objective=config.lightgbm.objective)
        raise_if_invalid(report)
    with timer.stage("registry"):
        registry = Registry(settings)  # opening MLflow (import, migrations) before fitting fails fast
    candidate = fit_candidate(
        data.frame,
        config,
        seed,
        champion=lambda test, y: compare_with_champion(registry, test, y, config=config),
        timer=timer,
        tuned=tune,
    )
    with timer.stage("log"), tempfile.TemporaryDirectory(prefix="steelthread-train-") as tmp:
        tags = {
            "git_sha": git_sha(),
            "lockfile_sha256": lockfile_sha256(),
            "data_fingerprint": data.fingerprint,
            "feature_service": SERVICE,
            "seed": str(seed),
            "data_source": data.source,
        }
        registered = log_and_register(
            registry,
            candidate,
            config=config,
            seed=seed,
            tags=tags,
            validation=report,
            workdir=Path(tmp),
            training_set=data,
        )
        move = None
        if registered.gate_passed:
            move = register_challenger(
                registry,
                settings,
                registered.version,
                f"training run {registered.run_id} passed its gate",
                on_note=on_note,
            )
    return TrainingOutcome(
        candidate=candidate,
        validation=report,
        registered=registered,
        challenger=move,
        fingerprint=data.fingerprint,
        seconds=dict(timer.seconds),
    )
