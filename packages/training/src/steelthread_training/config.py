"""The training configuration (validation limits, model parameters, gate floors) as typed objects.

Floors live in a reviewed YAML file, not in code, so raising a bar is a one-line diff that a reviewer sees.
One schema serves every task (`steelthread_contracts.package.Task`, from the use case's declaration): the
blocks every task reads (validation, split, lightgbm, baseline, slices, parity) plus per-task parts that
only the task they name reads (`threshold` and the top-level `gate` floors: binary; `gate.regression`,
`lightgbm.objective`, `baseline.alpha`, `validation.label_range`: regression; `gate.multiclass`,
`multiclass`: multiclass). docs/training.md lists every key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

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
    label_rate: tuple[float, float] = Field(
        default=(0.02, 0.6), description="Binary: share of positive labels, inclusive."
    )
    min_positives: int = Field(
        default=20, ge=0, description="Binary: positive labels; multiclass: rows of the rarest class."
    )
    label_range: tuple[float, float] | None = Field(
        default=None, description="Regression: inclusive range of the label (null: any finite number)."
    )
    ranges: dict[str, tuple[float, float]] = Field(default_factory=dict)


class SplitConfig(_Frozen):
    train: float = Field(default=0.6, gt=0.0, lt=1.0)
    validation: float = Field(default=0.2, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _leaves_a_test_set(self) -> SplitConfig:
        if self.train + self.validation >= 1.0:
            raise ValueError("split.train + split.validation must leave room for a test set")
        return self


RegressionObjective = Literal["regression", "poisson", "tweedie"]
COUNT_OBJECTIVES: tuple[str, ...] = ("poisson", "tweedie")
"""Objectives for non-negative targets, modelled on a log link: Poisson deviance is reported for them."""


class LightGBMConfig(_Frozen):
    objective: RegressionObjective | None = Field(
        default=None,
        description="Regression only: regression (L2), poisson or tweedie; null = the task's default "
        "(binary, regression, multiclass).",
    )
    tweedie_variance_power: float = Field(default=1.5, gt=1.0, lt=2.0)
    n_estimators: int = Field(default=400, ge=1)
    learning_rate: float = Field(default=0.05, gt=0.0)
    num_leaves: int = Field(default=15, ge=2)
    min_child_samples: int = Field(default=40, ge=1)
    reg_lambda: float = Field(default=1.0, ge=0.0)
    num_threads: int = Field(default=2, ge=1)
    early_stopping_rounds: int = Field(default=40, ge=0)


TUNABLE: dict[str, Literal["int", "float"]] = {
    "n_estimators": "int",
    "learning_rate": "float",
    "num_leaves": "int",
    "min_child_samples": "int",
    "reg_lambda": "float",
}
"""The LightGBM parameters a search may set, and their kind."""


class SearchRange(_Frozen):
    """One parameter's range: inclusive [low, high], searched on a log scale when `log`; an integer
    parameter (TUNABLE) is searched over the integers in it."""

    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> SearchRange:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        if self.log and self.low <= 0:
            raise ValueError("a log-scale range must be positive")
        return self


def _default_space() -> dict[str, SearchRange]:
    return {
        "learning_rate": SearchRange(low=0.01, high=0.2, log=True),
        "num_leaves": SearchRange(low=7, high=63, log=True),
        "min_child_samples": SearchRange(low=10, high=200, log=True),
        "reg_lambda": SearchRange(low=0.001, high=10.0, log=True),
    }


class TuningConfig(_Frozen):
    """`steelthread-train run --tune`: budget and search space of the seeded search (tuning.py)."""

    trials: int = Field(default=20, ge=1, description="Trials of the search (the budget).")
    timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Optional wall-clock budget; the trial count then depends on the machine (not "
        "reproducible), so it is off by default.",
    )
    holdout: float = Field(
        default=0.25,
        gt=0.0,
        lt=0.9,
        description="Newest share of the training slice the trials are scored on (never the test set).",
    )
    space: dict[str, SearchRange] = Field(
        default_factory=_default_space,
        description="LightGBM parameter -> {low, high, log}; one of " + ", ".join(TUNABLE) + ".",
    )

    @model_validator(mode="after")
    def _tunable(self) -> TuningConfig:
        unknown = [name for name in self.space if name not in TUNABLE]
        if unknown:
            raise ValueError(f"not tunable: {', '.join(unknown)} (one of {', '.join(TUNABLE)})")
        return self


class BaselineConfig(_Frozen):
    C: float = Field(default=1.0, gt=0.0, description="Binary and multiclass: logistic regression's C.")
    max_iter: int = Field(default=2000, ge=10)
    alpha: float = Field(default=1.0, gt=0.0, description="Regression: the Ridge baseline's alpha.")
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


class RegressionGateConfig(_Frozen):
    """Floors of a regression model; MAE is the primary metric (lower is better)."""

    max_mae: float | None = Field(
        default=None, gt=0.0, description="Ceiling in label units; null: not checked."
    )
    min_r2: float | None = Field(default=0.0, le=1.0, description="Floor on R²; null: not checked.")
    max_poisson_deviance: float | None = Field(
        default=None, gt=0.0, description="Poisson/tweedie objectives only; null: not checked."
    )
    min_gain_over_baseline: float = Field(
        default=0.0, description="(baseline MAE - MAE) / baseline MAE must be greater than this."
    )
    max_slice_mae_ratio: float | None = Field(
        default=2.0, gt=0.0, description="A gated slice's MAE / the overall MAE; null: not checked."
    )
    max_slice_mae: float | None = Field(
        default=None, gt=0.0, description="A gated slice's MAE in label units; null: not checked."
    )
    max_error_ratio: float = Field(
        default=1.25, ge=1.0, description="Fairness: max group MAE / min group MAE (protected attribute)."
    )
    champion_tolerance: float = Field(
        default=0.01, ge=0.0, description="Relative: MAE may be at most this share above the champion's."
    )


class MulticlassGateConfig(_Frozen):
    """Floors of a multiclass model; macro F1 is the primary metric (higher is better)."""

    min_macro_f1: float = Field(default=0.3, ge=0.0, le=1.0)
    max_log_loss: float | None = Field(default=None, gt=0.0)
    min_gain_over_baseline: float = Field(default=0.0, description="Macro F1 minus the baseline's.")
    min_slice_macro_f1: float = Field(default=0.2, ge=0.0, le=1.0)
    min_fairness_ratio: float = Field(
        default=0.8, ge=0.0, le=1.0, description="Min group macro F1 / max group macro F1."
    )
    champion_tolerance: float = Field(default=0.005, ge=0.0, description="Macro F1 below the champion's.")


class GateConfig(_Frozen):
    """The binary task's floors at the top level (as before tasks existed); the other tasks' in blocks."""

    min_roc_auc: float = Field(default=0.7, ge=0.0, le=1.0)
    min_pr_auc: float = Field(default=0.25, ge=0.0, le=1.0)
    max_brier: float = Field(default=0.2, ge=0.0, le=1.0)
    min_gain_over_baseline: float = 0.0
    min_slice_roc_auc: float = Field(default=0.6, ge=0.0, le=1.0)
    min_fairness_ratio: float = Field(default=0.8, ge=0.0, le=1.0)
    fairness_min_group_rows: int = Field(
        default=50, ge=1, description="Every task: a smaller protected group makes the fairness check fail."
    )
    champion_tolerance: float = Field(default=0.005, ge=0.0)
    regression: RegressionGateConfig = RegressionGateConfig()
    multiclass: MulticlassGateConfig = MulticlassGateConfig()


class ParityConfig(_Frozen):
    scale: Literal["absolute", "relative"] | None = Field(
        default=None,
        description="How a row's difference is measured; null = the task's: absolute for probabilities "
        "(binary, multiclass), relative for regression (|native - onnx| / max(|native|, relative_floor)).",
    )
    relative_floor: float = Field(default=1.0, gt=0.0)
    quantile: float = Field(default=0.9999, gt=0.0, le=1.0)
    quantile_tolerance: float = Field(default=1e-5, gt=0.0)
    row_tolerance: float = Field(default=1e-4, gt=0.0)
    max_rows_over: int = Field(default=3, ge=0)
    max_share_over: float = Field(default=1e-5, ge=0.0, le=1.0)
    max_abs: float = Field(default=0.05, gt=0.0)

    def for_scale(self, scale: Literal["absolute", "relative"]) -> ParityConfig:
        """The tolerances for `scale`: relative differences get looser defaults for the tolerances the YAML
        leaves unset (RELATIVE_DEFAULTS); what it sets is kept."""
        if scale != "relative":
            return self
        unset = {k: v for k, v in RELATIVE_DEFAULTS.items() if k not in self.model_fields_set}
        return self.model_copy(update=unset)


RELATIVE_DEFAULTS: dict[str, float] = {"quantile_tolerance": 1e-4, "row_tolerance": 1e-3}
"""A regressor's float32 sum over hundreds of trees drifts by a small relative amount (ARCHITECTURE.md,
"Measured pitfalls"; `tests/training/test_training_tasks.py` exercises it), which the probability defaults
would sit on; these leave a margin above that noise and still catch a wrong graph."""


class MulticlassConfig(_Frozen):
    classes: int | None = Field(
        default=None, ge=3, description="Number of classes (labels 0..K-1); null = max label + 1."
    )
    score_class: int | None = Field(
        default=None,
        ge=0,
        description="The class whose probability is the package's score (serving, batch, smoke bounds); "
        "null = the last class.",
    )


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
    multiclass: MulticlassConfig = MulticlassConfig()
    tuning: TuningConfig = TuningConfig()


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
