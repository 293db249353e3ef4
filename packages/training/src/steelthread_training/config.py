"""The training configuration (validation limits, model parameters, gate floors) as typed objects.

Floors live in a reviewed YAML file, not in code, so raising a bar is a one-line diff that a reviewer sees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from steelthread_contracts.usecase import active
from steelthread_training.errors import TrainingError

DEFAULT_CONFIG_PATH = active().training_config
"""The active use case's training.yaml (usecases/<name>/.../training.yaml)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValidationConfig(_Frozen):
    min_rows: int = Field(default=200, ge=1)
    max_missing_share: float = Field(default=0.25, ge=0.0, le=1.0)
    label_rate: tuple[float, float] = (0.02, 0.6)
    min_positives: int = Field(default=20, ge=0)
    ranges: dict[str, tuple[float, float]] = Field(default_factory=dict)


class SplitConfig(_Frozen):
    train: float = Field(default=0.6, gt=0.0, lt=1.0)
    validation: float = Field(default=0.2, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _leaves_a_test_set(self) -> SplitConfig:
        if self.train + self.validation >= 1.0:
            raise ValueError("split.train + split.validation must leave room for a test set")
        return self


class LightGBMConfig(_Frozen):
    n_estimators: int = Field(default=400, ge=1)
    learning_rate: float = Field(default=0.05, gt=0.0)
    num_leaves: int = Field(default=15, ge=2)
    min_child_samples: int = Field(default=40, ge=1)
    reg_lambda: float = Field(default=1.0, ge=0.0)
    num_threads: int = Field(default=2, ge=1)
    early_stopping_rounds: int = Field(default=40, ge=0)


class BaselineConfig(_Frozen):
    C: float = Field(default=1.0, gt=0.0)
    max_iter: int = Field(default=2000, ge=10)
    features: tuple[str, ...] | None = Field(
        default=None,
        description="Columns of the baseline model; null = every model feature.",
    )

    @model_validator(mode="after")
    def _known_features(self) -> BaselineConfig:
        from steelthread_training.frame import MODEL_FEATURES

        unknown = [f for f in self.features or () if f not in MODEL_FEATURES]
        if unknown:
            raise ValueError(f"unknown baseline feature(s): {', '.join(unknown)}")
        return self


class ThresholdConfig(_Frozen):
    cost_false_approve: float = Field(default=5.0, gt=0.0)
    cost_false_decline: float = Field(default=1.0, gt=0.0)
    review_band: float = Field(default=0.5, gt=0.0, le=1.0)


def _use_case_slices() -> tuple[str, ...]:
    return active().slices


class SliceConfig(_Frozen):
    columns: tuple[str, ...] = Field(
        default_factory=_use_case_slices,
        description="Evaluation slice columns; default the use case's `slices`.",
    )
    min_rows: int = Field(default=100, ge=1)
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Handed to the use case's `derived_slices` hook as its options.",
    )


class GateConfig(_Frozen):
    min_roc_auc: float = Field(default=0.7, ge=0.0, le=1.0)
    min_pr_auc: float = Field(default=0.25, ge=0.0, le=1.0)
    max_brier: float = Field(default=0.2, ge=0.0, le=1.0)
    min_gain_over_baseline: float = 0.0
    min_slice_roc_auc: float = Field(default=0.6, ge=0.0, le=1.0)
    min_fairness_ratio: float = Field(default=0.8, ge=0.0, le=1.0)
    fairness_min_group_rows: int = Field(default=50, ge=1)
    champion_tolerance: float = Field(default=0.005, ge=0.0)


class ParityConfig(_Frozen):
    quantile: float = Field(default=0.9999, gt=0.0, le=1.0)
    quantile_tolerance: float = Field(default=1e-5, gt=0.0)
    row_tolerance: float = Field(default=1e-4, gt=0.0)
    max_rows_over: int = Field(default=3, ge=0)
    max_share_over: float = Field(default=1e-5, ge=0.0, le=1.0)
    max_abs: float = Field(default=0.05, gt=0.0)


class RegistryConfig(_Frozen):
    model_name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Registered model name; default `<use case>-lgbm` (STEELTHREAD_MODEL_NAME overrides).",
    )


class TrainingConfig(_Frozen):
    registry: RegistryConfig = RegistryConfig()
    validation: ValidationConfig = ValidationConfig()
    split: SplitConfig = SplitConfig()
    lightgbm: LightGBMConfig = LightGBMConfig()
    baseline: BaselineConfig = BaselineConfig()
    threshold: ThresholdConfig = ThresholdConfig()
    slices: SliceConfig = SliceConfig()
    gate: GateConfig = GateConfig()
    parity: ParityConfig = ParityConfig()


def default_model_name(path: Path | None = None) -> str:
    """The registered model name a training.yaml gives (`registry.model_name`), else `<use case>-lgbm`.

    Read without validating the rest of the file, so the promotion and audit CLIs still start (and name the
    model) when a floor elsewhere in it is wrong; `load_config` reports that error where it matters.
    """
    source = path or DEFAULT_CONFIG_PATH
    try:
        raw = yaml.safe_load(source.read_text()) or {}
        name = RegistryConfig.model_validate(raw.get("registry") or {}).model_name
    except (OSError, yaml.YAMLError, AttributeError, ValidationError):
        name = None
    return name or f"{active().name}-lgbm"


def load_config(path: Path | None = None) -> TrainingConfig:
    """Read and validate the YAML config (the active use case's training.yaml by default)."""
    source = path or DEFAULT_CONFIG_PATH
    try:
        raw = yaml.safe_load(source.read_text())
    except OSError as exc:
        raise TrainingError(f"cannot read training config {source}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise TrainingError(
            f"training config {source} is not valid YAML: {' '.join(str(exc).split())}"
        ) from None
    try:
        return TrainingConfig.model_validate(raw or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise TrainingError(f"training config {source}: {where}: {first['msg']}") from None
