"""The machine-readable result of one run (summary.json): what dashboards, CI gates and people diff."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

SUMMARY_SCHEMA_VERSION = 1


class DriftSummary(BaseModel):
    method_numerical: str
    method_categorical: str
    threshold: float
    feature_scores: dict[str, float] = Field(default_factory=dict)
    drifted: list[str] = Field(default_factory=list)
    drift_share: float = 0.0
    prediction_score: float | None = None
    prediction_drifted: bool = False


class QualitySummary(BaseModel):
    missing_share: dict[str, float] = Field(default_factory=dict)
    reference_missing_share: dict[str, float] = Field(default_factory=dict)
    out_of_range_share: dict[str, float] = Field(default_factory=dict)
    new_category_share: dict[str, float] = Field(default_factory=dict)
    new_categories: dict[str, list[str]] = Field(default_factory=dict)
    type_changes: dict[str, dict[str, str]] = Field(default_factory=dict)
    overall_missing_share: float = 0.0
    overall_out_of_range_share: float = 0.0
    overall_new_category_share: float = 0.0


class PerformanceSummary(BaseModel):
    """Performance on the latest cohort whose labels have had time to arrive: the predictions logged in
    [cohort_start, cohort_end), where cohort_end is the run's `now` minus the label delay."""

    task: str = Field(
        default="binary", description="binary, regression or multiclass: what `current` measures."
    )
    cohort: str | None = Field(
        default=None, description="The cohort in words, with its label coverage (also the first message)."
    )
    cohort_start: datetime | None = None
    cohort_end: datetime | None = None
    label_delay_seconds: float = Field(
        default=0.0, description="How long after a prediction its label is expected (the use case's)."
    )
    cohort_rows: int = Field(default=0, description="Predictions logged in the cohort.")
    labelled_rows: int = Field(default=0, description="Predictions of the cohort whose label has arrived.")
    label_coverage: float | None = Field(
        default=None, description="labelled_rows / cohort_rows; None for an empty cohort."
    )
    min_labels: int
    evaluated: bool = False
    reason: str | None = None
    current: dict[str, float] = Field(default_factory=dict)
    reference: dict[str, float] = Field(default_factory=dict)
    estimated: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "Binary: CBPE's estimate on the whole current window, before its labels arrive (roc_auc, "
            "positive_rate; steelthread_monitoring.cbpe). Blind to concept drift."
        ),
    )


class SkewSummary(BaseModel):
    sampled: int
    compared: int
    skewed_rows: int
    skew_share: float
    feature_skew_share: dict[str, float] = Field(default_factory=dict)


class RecordsSummary(BaseModel):
    """Record hygiene of one input, so no report rests silently on fewer (or doubled) records."""

    duplicates: int = Field(
        default=0,
        description="Records whose request_id was already read: prediction log, counted once (the earliest "
        "logged); feedback, superseded by the request's latest label.",
    )
    malformed: int = Field(default=0, description="Lines skipped: not a record of the contract.")
    malformed_by_reason: dict[str, int] = Field(
        default_factory=dict,
        description="invalid_json, not_an_object, missing:<field>, wrong_type:<field>.",
    )
    malformed_examples: list[str] = Field(
        default_factory=list, description="The first few as `file:line: reason`."
    )


class Summary(BaseModel):
    schema_version: int = SUMMARY_SCHEMA_VERSION
    run_id: str
    started_at: datetime
    finished_at: datetime
    window_start: datetime
    window_end: datetime
    reference_path: str
    model_name: str | None = None
    model_version: str | None = None
    task: str = Field(default="binary", description="From the package manifest (or the use case).")
    model_age_seconds: float | None = None
    rows: int
    log_files: list[str] = Field(default_factory=list)
    unseen_columns: list[str] = Field(default_factory=list)
    absent_columns: list[str] = Field(
        default_factory=list, description="Reference columns no logged record carries: not checked."
    )
    drift: DriftSummary
    quality: QualitySummary
    performance: PerformanceSummary
    skew: SkewSummary | None = None
    prediction_log: RecordsSummary = Field(
        default_factory=RecordsSummary,
        description="In the log files read for the window; a malformed record whose readable logged_at "
        "lies outside the window is not counted.",
    )
    feedback: RecordsSummary = Field(
        default_factory=RecordsSummary,
        description="In every feedback file (not read when the window is empty).",
    )
    report_html: str | None = None
    performance_html: str | None = None
    evidently_workspace: str | None = Field(
        default=None,
        description="The Evidently workspace this run was added to (for `evidently ui`).",
    )
    exit_code: int = 0
    messages: list[str] = Field(default_factory=list)
