"""The credit-default example (binary): a customer applies for a loan; the service answers the probability
of default and a decision.

`USE_CASE` is the whole declaration the plumbing reads (registered under the entry-point group
`steelthread.usecases` as `credit`, see pyproject.toml). A fork copies this folder, renames it and edits
what is here.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

from steelthread_contracts.decision import DecisionPolicy
from steelthread_contracts.package import Task
from steelthread_contracts.usecase import (
    Entity,
    FeatureView,
    OnDemandView,
    RequestField,
    SmokeCase,
    Tables,
    Texts,
    UseCase,
)
from steelthread_usecase_credit.domain import (
    APPLICATION_FEATURES,
    HISTORY_FEATURES,
    HOME_OWNERSHIP,
    INCOME_BAND,
    JOIN_KEY,
    LABEL_DELAY_DAYS,
    PROFILE_FEATURES,
    PURPOSES,
    TERMS,
)
from steelthread_usecase_credit.reasons import PERSONAL, REASONS

__all__ = ["USE_CASE"]

_UNKNOWN: dict[str, float | int | str | None] = dict.fromkeys(
    (*PROFILE_FEATURES, *HISTORY_FEATURES), math.nan
)

_LOW: dict[str, float | int | str | None] = {
    "age": 52.0,
    "years_employed": 20.0,
    "months_at_address": 120.0,
    "home_ownership": "own",
    "total_balance": 2_000.0,
    "credit_utilisation": 0.2,
    "delinquencies_12m": 0.0,
    "months_since_delinquency": 120.0,
    "past_loans": 4.0,
    "inquiries_6m": 0.0,
    "loan_amount": 4_000.0,
    "term_months": 24,
    "purpose": "car",
    "declared_income": 95_000.0,
}

SMOKE_CASES = (
    SmokeCase("low_risk", "long employment, clean history, small car loan", _LOW, (0.0, 0.15)),
    SmokeCase(
        "typical",
        "average customer, moderate debt consolidation loan",
        _LOW
        | {
            "age": 40.0,
            "years_employed": 4.0,
            "home_ownership": "mortgage",
            "total_balance": 9_000.0,
            "credit_utilisation": 0.55,
            "past_loans": 2.0,
            "inquiries_6m": 2.0,
            "loan_amount": 18_000.0,
            "term_months": 36,
            "purpose": "debt_consolidation",
            "declared_income": 52_000.0,
        },
        (0.02, 0.6),
    ),
    SmokeCase(
        "high_risk",
        "recent delinquencies, maxed-out credit, loan above yearly income",
        _LOW
        | {
            "age": 23.0,
            "years_employed": 0.5,
            "months_at_address": 4.0,
            "home_ownership": "rent",
            "total_balance": 19_000.0,
            "credit_utilisation": 0.97,
            "delinquencies_12m": 4.0,
            "months_since_delinquency": 1.0,
            "past_loans": 1.0,
            "inquiries_6m": 5.0,
            "loan_amount": 30_000.0,
            "term_months": 60,
            "purpose": "business",
            "declared_income": 21_000.0,
        },
        (0.4, 1.0),
    ),
    SmokeCase(
        "zero_income",
        "no declared income: the income flag and the floored ratios must push the score up",
        _LOW
        | {
            "age": 30.0,
            "years_employed": 1.0,
            "home_ownership": "rent",
            "credit_utilisation": 0.6,
            "delinquencies_12m": 1.0,
            "months_since_delinquency": 6.0,
            "inquiries_6m": 2.0,
            "loan_amount": 10_000.0,
            "term_months": 48,
            "purpose": "other",
            "declared_income": 0.0,
        },
        (0.3, 1.0),
    ),
    SmokeCase(
        "unknown_customer",
        "no profile or history (new customer): missing values must still give a finite score",
        _UNKNOWN
        | {
            "home_ownership": None,
            "loan_amount": 8_000.0,
            "term_months": 36,
            "purpose": "medical",
            "declared_income": 40_000.0,
        },
        (0.0, 1.0),
    ),
)

USE_CASE = UseCase(
    name="credit",
    task=Task.BINARY,
    entity=Entity(
        name="customer",
        join_key=JOIN_KEY,
        description="Customer key in the feature store.",
        example=1042,
    ),
    # The descriptions are the v1 API document's (docs/api/openapi.json), byte for byte: the fields without
    # one there have none here, so deriving the request model changed no byte of the published schema.
    request_fields=(
        RequestField("loan_amount", "number", gt=0, le=1_000_000, example=12_000.0),
        RequestField("term_months", "choice", choices=TERMS, example=36),
        RequestField(
            "purpose", "choice", choices=PURPOSES, enum_name="LoanPurpose", example="debt_consolidation"
        ),
        RequestField(
            "declared_income",
            "number",
            ge=0,
            le=10_000_000,
            example=54_000.0,
            description="Yearly income declared on the application; 0 is allowed (no income).",
        ),
    ),
    tables=Tables(
        events="applications",
        labels="labels",
        event_time="application_timestamp",
        label="defaulted",
        label_time="label_timestamp",
    ),
    views=(
        FeatureView(
            name="customer_profile",
            table="customers",
            ttl=timedelta(days=3650),
            read_budget_ms=2.0,  # p99 of one entity's online read (bench/bench_features.py)
            description="Customer profile; region and protected_group are for slices only.",
            features=PROFILE_FEATURES,
            strings=("home_ownership",),
            slices=("region", "protected_group"),
        ),
        FeatureView(
            name="credit_history",
            table="credit_history",
            ttl=timedelta(days=90),
            read_budget_ms=2.0,  # p99 of one entity's online read (bench/bench_features.py)
            description="Credit-bureau snapshots; older than the TTL counts as unknown.",
            features=HISTORY_FEATURES,
        ),
    ),
    on_demand=OnDemandView(
        name="application_features",
        request_source="application_request",
        features=APPLICATION_FEATURES,
        stored_inputs=("home_ownership", "total_balance"),
        frame="steelthread_usecase_credit.transforms:application_features",
        budget_ms=1.0,  # p99 of one request's row (bench/bench_features.py)
        row="steelthread_usecase_credit.transforms:application_row",
        freshness={
            "debt_to_income": "credit_history",
            **{f"home_ownership_{h}": "customer_profile" for h in HOME_OWNERSHIP},
        },
    ),
    feature_service="credit_risk_v1",
    slice_service="credit_risk_v1_slices",
    generator="steelthread_usecase_credit.generator",
    scenarios={
        "income_shift": "declared incomes fall (applications.declared_income)",
        "new_category": "a purpose unseen in training appears (applications.purpose)",
        "missing_values": "bureau balances go missing (credit_history.total_balance, credit_utilisation)",
        "label_shift": "defaults stop following the risk the model learned (labels.defaulted)",
    },
    slices=("purpose", INCOME_BAND, "region"),
    derived_slices="steelthread_usecase_credit.slices:add_derived_slices",
    protected_attribute="protected_group",
    smoke_cases=SMOKE_CASES,
    smoke_ordering=("low_risk", "typical", "high_risk"),
    texts=Texts(
        api_title="steelthread credit-risk API",
        api_description="Probability of default for loan applications, from skeleton to registered model.",
        score_field="probability_of_default",
        score_description="",  # the v1 document describes the score in the operation, not the field
        label_description="1 = defaulted, 0 = repaid.",
        request_description="One loan application as the consuming application knows it at decision time.",
        predict_description="Probability that this loan defaults, and the decision that follows from it.",
        batch_description=(
            "Up to `MAX_BATCH_SIZE` applications in one call; each is answered and logged as if sent alone."
        ),
        feedback_description=(
            "A label that arrived after the decision (e.g. the loan defaulted or was repaid)."
        ),
    ),
    training_config=Path(__file__).with_name("training.yaml"),
    reasons=REASONS,
    personal=PERSONAL,
    demo_scenario="income_shift",
    policy=DecisionPolicy(fallback=DecisionPolicy().fallback, name="credit-fail-closed"),
    label_delay=timedelta(days=LABEL_DELAY_DAYS[1]),
)
