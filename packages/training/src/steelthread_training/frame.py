"""Column names of the training frame, shared by every stage, all derived from the active use case.

The frame is one row per labelled event (`tables.events` joined with `tables.labels`): the entity columns,
the feature service's features in order, the slice attributes (stored ones from the feature views, derived
ones from the use case's `derived_slices` hook) and the label. Only FEATURE columns ever reach a model.
Nothing here names a domain: a fork changes its use-case folder, not this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from steelthread_contracts.package import Task
from steelthread_contracts.usecase import UseCase, active
from steelthread_features.definitions import EVENT_TIMESTAMP, FEATURE_NAMES, FEATURE_SERVICE

USE_CASE: Final[UseCase] = active()

LABEL: Final = "label"
"""The frame's label column: the labels table's `tables.label`, renamed so every stage (and the
reference.parquet that monitoring reads) finds it under one name."""
TIME: Final = EVENT_TIMESTAMP
"""Event time of each row (the events table's `tables.event_time`, renamed for the point-in-time join)."""
REQUEST_ID: Final = USE_CASE.tables.request_id
PROTECTED: Final[str | None] = USE_CASE.protected_attribute
"""The protected attribute fairness is measured across; None: fairness does not apply."""
SLICE_COLUMNS: Final[tuple[str, ...]] = tuple(
    dict.fromkeys((*USE_CASE.slices, *((PROTECTED,) if PROTECTED else ())))
)
"""Evaluation and monitoring attributes (the use case's slices, then the protected one); never inputs."""
SCORE: Final = "score"
MODEL_FEATURES: Final[tuple[str, ...]] = FEATURE_NAMES
SERVICE: Final = FEATURE_SERVICE
TASK: Final[Task] = USE_CASE.task


@dataclass(frozen=True)
class FrameSpec:
    """What the modelling stages need to know about a frame: the task, the model's input columns in tensor
    order, the columns that go to reference.parquet as slices, and the protected attribute.

    `SPEC` is the active use case's; a test (or a notebook) trains a frame of its own through the same
    stages by passing another one (`fit_candidate(frame, config, seed, spec=...)`).
    """

    task: Task
    features: tuple[str, ...]
    slices: tuple[str, ...] = ()
    protected: str | None = None

    def __post_init__(self) -> None:
        if not self.features:
            raise ValueError("a frame spec needs at least one feature")
        if self.protected is not None and self.protected in self.features:
            raise ValueError(f"the protected attribute {self.protected!r} must never be a model input")

    @classmethod
    def of(cls, use_case: UseCase) -> FrameSpec:
        protected = use_case.protected_attribute
        slices = tuple(dict.fromkeys((*use_case.slices, *((protected,) if protected else ()))))
        return cls(task=use_case.task, features=use_case.feature_names, slices=slices, protected=protected)


SPEC: Final[FrameSpec] = FrameSpec.of(USE_CASE)
