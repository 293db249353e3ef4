"""The credit example's reason codes (what a notice of an adverse decision states) and its personal fields
(what the prediction log, explanations and logs may keep of them: `steelthread_contracts.privacy`).

Each text names the factor the model actually scored, in the applicant's terms, never a cause it did not
score; features that are one factor to the applicant (a category's one-hot columns, income and its missing
flag) are one reason. Every model feature is in exactly one reason (the use case refuses a gap).
"""

from __future__ import annotations

from typing import Final

from steelthread_contracts.usecase import PersonalField, ReasonText
from steelthread_usecase_credit.domain import HOME_OWNERSHIP, JOIN_KEY, PURPOSES

REASONS: Final[tuple[ReasonText, ...]] = (
    ReasonText("age", "Applicant's age", ("age",)),
    ReasonText("employment", "Length of time in current employment", ("years_employed",)),
    ReasonText("address", "Length of time at current address", ("months_at_address",)),
    ReasonText("balances", "Total balance owed on existing credit accounts", ("total_balance",)),
    ReasonText("utilisation", "Proportion of available credit in use", ("credit_utilisation",)),
    ReasonText(
        "delinquencies", "Number of delinquent payments in the last 12 months", ("delinquencies_12m",)
    ),
    ReasonText("recent_delinquency", "Time since the most recent delinquency", ("months_since_delinquency",)),
    ReasonText("loan_history", "Number of loans repaid or held before", ("past_loans",)),
    ReasonText("inquiries", "Number of credit inquiries in the last 6 months", ("inquiries_6m",)),
    ReasonText("amount", "Amount of credit requested", ("requested_amount",)),
    ReasonText("term", "Length of the loan term requested", ("loan_term",)),
    ReasonText("income", "Income declared on the application", ("income", "income_missing")),
    ReasonText("amount_to_income", "Amount requested relative to declared income", ("loan_to_income",)),
    ReasonText("instalment", "Size of the monthly instalment", ("instalment",)),
    ReasonText(
        "instalment_to_income", "Monthly instalment relative to declared income", ("instalment_to_income",)
    ),
    ReasonText("debt_to_income", "Existing debt relative to declared income", ("debt_to_income",)),
    ReasonText(
        "housing",
        "Housing status (rent, own, mortgage)",
        tuple(f"home_ownership_{h}" for h in HOME_OWNERSHIP),
    ),
    ReasonText("purpose", "Purpose of the loan", tuple(f"purpose_{p}" for p in PURPOSES)),
)

PERSONAL: Final[tuple[PersonalField, ...]] = (
    PersonalField(
        JOIN_KEY, "hash", "identifies the customer; pseudonymised, so one customer's records group"
    ),
    PersonalField("declared_income", "drop", "the applicant's income as declared on the form"),
    PersonalField("income", "drop", "the declared income as the model reads it"),
    PersonalField("age", "drop", "the applicant's age, a protected characteristic"),
)
"""Monitoring keeps drift on every other feature; income and age drift is watched on the training side
(the reference) and by the ratios derived from income, not from the log (docs/monitoring.md)."""
