"""Names and constants shared by the Feast repo, the generator and every consumer.

Kept free of `feast` imports (which cost ~8 s) so that serving and training can learn the feature
order and column names cheaply; `tests/features` checks that the Feast objects agree with them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from steelthread_contracts import LoanPurpose

PROJECT: Final = "steelthread"
FEATURE_SERVICE: Final = "credit_risk_v1"
"""The model's feature set; training and serving both ask for it by this name."""
SLICE_SERVICE: Final = "credit_risk_v1_slices"
"""Attributes for evaluation slices and fairness checks; never model inputs."""

ENTITY: Final = "customer"
JOIN_KEY: Final = "customer_id"
EVENT_TIMESTAMP: Final = "event_timestamp"
CREATED_TIMESTAMP: Final = "created_timestamp"

PROFILE_VIEW: Final = "customer_profile"
HISTORY_VIEW: Final = "credit_history"
APPLICATION_VIEW: Final = "application_features"
REQUEST_SOURCE: Final = "application_request"

PROFILE_TTL: Final = timedelta(days=3650)
HISTORY_TTL: Final = timedelta(days=90)
"""A credit-history snapshot older than this is treated as unknown, not as current."""

INCOME_FLOOR: Final = 1_000.0
"""Ratios divide by max(income, INCOME_FLOOR): zero income gets a large, finite ratio plus a flag."""

PURPOSES: Final[tuple[str, ...]] = tuple(p.value for p in LoanPurpose)
HOME_OWNERSHIP: Final[tuple[str, ...]] = ("rent", "own", "mortgage")
REGIONS: Final[tuple[str, ...]] = ("north", "south", "east", "west", "central")
PROTECTED_GROUPS: Final[tuple[str, ...]] = ("group_a", "group_b")

# --- Batch feature views: (name, Feast type) in source column order -------------------------------
PROFILE_FEATURES: Final[tuple[str, ...]] = ("age", "years_employed", "months_at_address")
PROFILE_CATEGORICAL: Final[tuple[str, ...]] = ("home_ownership",)
SLICE_COLUMNS: Final[tuple[str, ...]] = ("region", "protected_group")
HISTORY_FEATURES: Final[tuple[str, ...]] = (
    "total_balance",
    "credit_utilisation",
    "delinquencies_12m",
    "months_since_delinquency",
    "past_loans",
    "inquiries_6m",
)

# --- Request-time fields (steelthread_contracts.PredictionRequest) --------------------------------
REQUEST_FIELDS: Final[tuple[str, ...]] = ("loan_amount", "term_months", "purpose", "declared_income")

# --- On-demand (request-time) features, computed by transforms.application_features -------------
APPLICATION_FEATURES: Final[tuple[str, ...]] = (
    "requested_amount",
    "loan_term",
    "income",
    "income_missing",
    "loan_to_income",
    "instalment",
    "instalment_to_income",
    "debt_to_income",
    *(f"home_ownership_{h}" for h in HOME_OWNERSHIP),
    *(f"purpose_{p}" for p in PURPOSES),
)
# Output names never reuse a request field's name: Feast would otherwise overwrite the entity
# frame's column with the feature of the same name.

VIEW_TTLS: Final[dict[str, timedelta]] = {PROFILE_VIEW: PROFILE_TTL, HISTORY_VIEW: HISTORY_TTL}

FEATURE_VIEW_OF: Final[dict[str, str]] = {
    **dict.fromkeys(PROFILE_FEATURES, PROFILE_VIEW),
    **dict.fromkeys(HISTORY_FEATURES, HISTORY_VIEW),
    "debt_to_income": HISTORY_VIEW,
    **{f"home_ownership_{h}": PROFILE_VIEW for h in HOME_OWNERSHIP},
}
"""The batch view whose freshness a feature depends on (request-only features have none)."""

FEATURE_NAMES: Final[tuple[str, ...]] = (
    *PROFILE_FEATURES,
    *HISTORY_FEATURES,
    *APPLICATION_FEATURES,
)
"""credit_risk_v1's columns, in the order the model's input tensor uses."""


def feature_names() -> list[str]:
    """The model's feature order, without importing Feast."""
    return list(FEATURE_NAMES)


def slice_columns() -> list[str]:
    return list(SLICE_COLUMNS)
