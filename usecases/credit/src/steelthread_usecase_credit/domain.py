"""The credit example's domain vocabulary: categories and constants its transform and generator share.

Feast-free and pandas-free, so the declaration (and serving, which loads it) stays light.
"""

from __future__ import annotations

from typing import Final

PURPOSES: Final[tuple[str, ...]] = (
    "debt_consolidation",
    "home_improvement",
    "car",
    "business",
    "education",
    "medical",
    "other",
)
TERMS: Final[tuple[int, ...]] = (12, 24, 36, 48, 60)
HOME_OWNERSHIP: Final[tuple[str, ...]] = ("rent", "own", "mortgage")
REGIONS: Final[tuple[str, ...]] = ("north", "south", "east", "west", "central")
PROTECTED_GROUPS: Final[tuple[str, ...]] = ("group_a", "group_b")
INCOME_FLOOR: Final = 1_000.0
"""Ratios divide by max(income, INCOME_FLOOR): zero income gets a large, finite ratio plus a flag."""
INCOME_BAND: Final = "income_band"
JOIN_KEY: Final = "customer_id"
EVENT_TIMESTAMP: Final = "event_timestamp"
CREATED_TIMESTAMP: Final = "created_timestamp"
LABEL_DELAY_DAYS: Final[tuple[int, int]] = (60, 450)
"""A loan's outcome (default or repayment) is known this many days after the application, drawn uniformly:
the generator's delay, and the upper end is the use case's `label_delay`."""

PROFILE_FEATURES: Final[tuple[str, ...]] = ("age", "years_employed", "months_at_address")
HISTORY_FEATURES: Final[tuple[str, ...]] = (
    "total_balance",
    "credit_utilisation",
    "delinquencies_12m",
    "months_since_delinquency",
    "past_loans",
    "inquiries_6m",
)
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
"""Request-time features in tensor order; never a request field's name (Feast would overwrite it)."""
