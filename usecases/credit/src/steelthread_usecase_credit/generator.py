"""Deterministic synthetic data for the credit-risk use case.

The same seed gives byte-identical parquet files, so tests, the demo and monitoring can rely on a known
truth. Drift scenarios are applied on top of the finished baseline with their own random stream and
touch only the columns they name, and only from `drift_start` on, so a monitor can be checked against
exactly what changed. A team that forks the template replaces this module, not the plumbing: the
plumbing reaches it through the use case declaration (`generator`), as `steelthread_features.generator`,
which re-exports `generate`, `write`, `read`, `TABLES`, `DEFAULT_END` and `DEFAULT_DAYS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa

from steelthread_contracts import tables
from steelthread_contracts.tables import micros, utc_series
from steelthread_usecase_credit.domain import (
    APPLICATION_FEATURES,
    CREATED_TIMESTAMP,
    EVENT_TIMESTAMP,
    HOME_OWNERSHIP,
    JOIN_KEY,
    LABEL_DELAY_DAYS,
    PROTECTED_GROUPS,
    PURPOSES,
    REGIONS,
)
from steelthread_usecase_credit.transforms import application_matrix

DEFAULT_END: Final = datetime(2026, 10, 1, tzinfo=UTC)
DEFAULT_DAYS: Final = 365
SNAPSHOT_EVERY_DAYS: Final = 61
NEW_CATEGORY: Final = "education"
"""Purpose held out of the baseline; the `new_category` scenario introduces it (still a valid API value,
so the scenario can be replayed through serving)."""
DRIFT_FRACTION: Final = 0.25
"""Scenarios change only the last quarter of the time window."""
NO_DELINQUENCY_MONTHS: Final = 120.0
"""`months_since_delinquency` for a customer with none on record (a cap, not a missing value)."""

US = pa.timestamp("us", tz="UTC")
TABLES: Final = ("customers", "credit_history", "applications", "labels")

SCHEMAS: Final[dict[str, pa.Schema]] = {
    "customers": pa.schema(
        [
            (JOIN_KEY, pa.int64()),
            (EVENT_TIMESTAMP, US),
            (CREATED_TIMESTAMP, US),
            ("age", pa.float64()),
            ("years_employed", pa.float64()),
            ("months_at_address", pa.float64()),
            ("home_ownership", pa.string()),
            ("region", pa.string()),
            ("protected_group", pa.string()),
        ]
    ),
    "credit_history": pa.schema(
        [
            (JOIN_KEY, pa.int64()),
            (EVENT_TIMESTAMP, US),
            (CREATED_TIMESTAMP, US),
            ("total_balance", pa.float64()),
            ("credit_utilisation", pa.float64()),
            ("delinquencies_12m", pa.float64()),
            ("months_since_delinquency", pa.float64()),
            ("past_loans", pa.float64()),
            ("inquiries_6m", pa.float64()),
        ]
    ),
    "applications": pa.schema(
        [
            ("request_id", pa.string()),
            (JOIN_KEY, pa.int64()),
            ("application_timestamp", US),
            ("loan_amount", pa.float64()),
            ("term_months", pa.int64()),
            ("purpose", pa.string()),
            ("declared_income", pa.float64()),
        ]
    ),
    "labels": pa.schema(
        [
            ("request_id", pa.string()),
            ("defaulted", pa.int64()),
            ("label_timestamp", US),
        ]
    ),
}


class Scenario(StrEnum):
    INCOME_SHIFT = "income_shift"
    NEW_CATEGORY = "new_category"
    MISSING_VALUES = "missing_values"
    LABEL_SHIFT = "label_shift"


SCENARIO_COLUMNS: Final[dict[Scenario, dict[str, tuple[str, ...]]]] = {
    Scenario.INCOME_SHIFT: {"applications": ("declared_income",)},
    Scenario.NEW_CATEGORY: {"applications": ("purpose",)},
    Scenario.MISSING_VALUES: {"credit_history": ("total_balance", "credit_utilisation")},
    Scenario.LABEL_SHIFT: {"labels": ("defaulted",)},
}
"""What each scenario is allowed to change: table -> columns (tested)."""


@dataclass(frozen=True)
class GeneratedData:
    """The four tables as pandas frames (timestamps are datetime64[us, UTC])."""

    customers: pd.DataFrame
    credit_history: pd.DataFrame
    applications: pd.DataFrame
    labels: pd.DataFrame
    seed: int
    scenario: Scenario | None
    start: datetime
    end: datetime
    drift_start: datetime
    extra: dict[str, str] = field(default_factory=dict)

    def table(self, name: str) -> pd.DataFrame:
        frame: pd.DataFrame = getattr(self, name)
        return frame


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _round(x: np.ndarray, step: float) -> np.ndarray:
    return np.asarray(np.round(x / step) * step)


ECONOMY_EPOCH: Final = datetime(2025, 1, 1, tzinfo=UTC)
"""The economy turns slowly from here on (`default_logit`'s `years`), whatever window is generated."""
ECONOMY_DRIFT: Final = 2.0
"""How fast the relationships turn, per year since ECONOMY_EPOCH (the turn is capped at 3, a new steady
state): what the staleness backtest measures."""

PURPOSE_EFFECT: Final[dict[str, float]] = {"debt_consolidation": 0.25, "medical": 0.3, "car": -0.2}
"""Log-odds of default per purpose (business is set apart: its risk depends on the years employed)."""


def default_logit(
    *,
    risk: np.ndarray,
    utilisation: np.ndarray,
    delinquencies: np.ndarray,
    months_since_delinquency: np.ndarray,
    inquiries: np.ndarray,
    loan_to_income: np.ndarray,
    instalment_to_income: np.ndarray,
    income_missing: np.ndarray,
    term: np.ndarray,
    purpose: np.ndarray,
    age: np.ndarray,
    years_employed: np.ndarray,
    home_ownership: np.ndarray,
    years: np.ndarray,
) -> np.ndarray:
    """Log-odds of default: the generator's truth, in one place.

    It is meant to need a model, as a lender's book does: a maxed-out credit line is a threshold, not a
    slope; recent delinquencies count up to two; many inquiries matter only on a high balance; borrowing
    against income saturates and is steep for a renter, mild for an owner (segment-specific slopes); an
    instalment past a share of income is a cliff; youth raises the risk and so does old age (U-shaped); a
    business loan is risky only without years in a job. A logistic regression on every feature misses most
    of this (usecases/credit/tests/test_credit_models.py and bench/bench_model_margin.py measure it against
    LightGBM). And the economy turns: over the `years` since ECONOMY_EPOCH (times ECONOMY_DRIFT, capped)
    the old regime fades (renters' steep borrowing slope, the maxed-out line, the instalment cliff, youth)
    while a new one grows (owners' borrowing, inquiries, thin files, a lower instalment cliff, old age), so
    a model ages (`steelthread-train backtest` measures how fast). `home_ownership` is an index into
    HOME_OWNERSHIP; the rest are the model's own features.
    """
    rent = home_ownership == HOME_OWNERSHIP.index("rent")
    own = home_ownership == HOME_OWNERSHIP.index("own")
    turn = np.clip(years, 0.0, 3.0) * ECONOMY_DRIFT
    fade = np.clip(1.0 - 0.4 * turn, 0.0, 1.0)
    slope = np.where(rent, 0.6 + 2.4 * fade, np.where(own, 0.2 + 1.0 * turn, 1.2 + 0.5 * turn))
    borrowed = np.minimum(loan_to_income, 1.5) * slope
    recent = (delinquencies > 0) & (months_since_delinquency < 6)
    business = purpose == "business"
    purpose_effect = np.array([PURPOSE_EFFECT.get(str(p), 0.0) for p in purpose])
    return np.asarray(
        -3.6
        + 0.3 * risk
        + 2.2 * fade * (utilisation > 0.8)
        + (1.3 + 0.6 * turn) * (utilisation < 0.05)
        + 1.2 * recent * np.minimum(delinquencies, 2.0)
        + (1.2 + 1.0 * turn) * ((inquiries >= 3) & (utilisation > 0.5))
        + borrowed
        + 1.7 * fade * (instalment_to_income > 0.35)
        + 0.8 * turn * (instalment_to_income > 0.2)
        + 1.2 * income_missing
        + 0.9 * ((term >= 60) & (loan_to_income > 0.4))
        + 1.6 * fade * (age < 26)
        + (1.3 + 0.6 * turn) * (age > 66)
        - 0.6 * (years_employed >= 5)
        + np.where(business, np.where(years_employed < 3, 1.6, -0.3), purpose_effect)
    )


def _latest_snapshot(
    h_cust: np.ndarray, h_time: np.ndarray, a_cust: np.ndarray, a_time: np.ndarray, low: int, high: int
) -> np.ndarray:
    """Per application, the index of its customer's latest snapshot at or before it (Feast's point-in-time
    join). Snapshots are ordered by customer, then time, and every time lies in [low, high)."""
    span = high - low
    keys = h_cust * span + (h_time - low)
    latest = np.searchsorted(keys, a_cust * span + (a_time - low), side="right") - 1
    if (latest < 0).any() or (h_cust[latest] != a_cust).any():
        raise RuntimeError("an application precedes its customer's first credit-history snapshot")
    return np.asarray(latest)


def generate(
    rows: int,
    seed: int = 0,
    scenario: Scenario | str | None = None,
    *,
    end: datetime = DEFAULT_END,
    days: int = DEFAULT_DAYS,
) -> GeneratedData:
    """Generate `rows` applications with their customers, credit history and later labels."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    if end.tzinfo is None:
        raise ValueError("end must be timezone-aware")
    scen = Scenario(scenario) if scenario is not None else None
    rng = np.random.default_rng(seed)
    start = end - timedelta(days=days)
    start_us, end_us = micros(start), micros(end)
    day_us = 86_400 * 1_000_000

    # Customers: a latent risk drives their history; slice attributes do not enter the label.
    n_cust = max(1, rows // 3)
    risk = rng.standard_normal(n_cust)
    age = np.clip(np.round(rng.normal(42, 12, n_cust)), 18, 85)
    years_employed = np.round(np.minimum(age - 18, rng.gamma(2.0, 3.0, n_cust) * np.exp(-0.2 * risk)), 1)
    months_at_address = np.round(rng.gamma(2.0, 24.0, n_cust))
    p_own = np.clip((age - 18) / 100, 0.02, 0.5)
    p_mortgage = np.clip((age - 22) / 60, 0.05, 0.5)
    u = rng.random(n_cust)
    home_idx = np.where(u < p_own, 1, np.where(u < p_own + p_mortgage, 2, 0))
    region_idx = rng.choice(len(REGIONS), n_cust, p=[0.25, 0.2, 0.2, 0.2, 0.15])
    group_idx = (rng.random(n_cust) < 0.35 + 0.1 * (region_idx % 2)).astype(np.int64)
    base_income = _round(
        np.exp(rng.normal(np.log(48_000), 0.45, n_cust)) * (1 + 0.02 * years_employed) * np.exp(-0.15 * risk),
        100.0,
    )
    signup = end_us - days * day_us - rng.integers(30 * day_us, 5 * 365 * day_us, n_cust)
    customers = pd.DataFrame(
        {
            JOIN_KEY: np.arange(1, n_cust + 1, dtype=np.int64),
            EVENT_TIMESTAMP: utc_series(signup),
            CREATED_TIMESTAMP: utc_series(signup + 3_600_000_000),
            "age": age.astype(np.float64),
            "years_employed": years_employed,
            "months_at_address": months_at_address,
            "home_ownership": np.asarray(HOME_OWNERSHIP, dtype=object)[home_idx],
            "region": np.asarray(REGIONS, dtype=object)[region_idx],
            "protected_group": np.asarray(PROTECTED_GROUPS, dtype=object)[group_idx],
        }
    )

    # Credit-history snapshots, from a little before the window to its end.
    # Every ~SNAPSHOT_EVERY_DAYS with jitter, so a baseline customer is never past the 90-day TTL.
    first = start_us - 120 * day_us
    k = (end_us - first) // (SNAPSHOT_EVERY_DAYS * day_us) + 2
    h_cust = np.repeat(np.arange(n_cust), k)
    phase = rng.integers(0, SNAPSHOT_EVERY_DAYS * day_us, n_cust)
    jitter = rng.integers(-10 * day_us, 10 * day_us, (n_cust, k))
    h_time = (first + phase[:, None] + np.arange(k)[None, :] * SNAPSHOT_EVERY_DAYS * day_us + jitter).reshape(
        -1
    )
    keep = h_time < end_us
    h_cust, h_time = h_cust[keep], h_time[keep]
    h_risk = risk[h_cust]
    n_hist = len(h_cust)
    utilisation = np.round(_sigmoid(0.9 * h_risk + rng.normal(-0.4, 0.6, n_hist)), 4)
    balance = _round(base_income[h_cust] * utilisation * rng.uniform(0.2, 0.9, n_hist), 0.01)
    delinquencies = rng.poisson(np.exp(-1.6 + 0.9 * h_risk)).astype(np.float64)
    months_since = np.where(
        delinquencies > 0, rng.integers(0, 13, n_hist).astype(np.float64), NO_DELINQUENCY_MONTHS
    )
    past_loans = rng.poisson(1.0 + age[h_cust] / 25).astype(np.float64)
    inquiries = rng.poisson(np.exp(-0.7 + 0.5 * h_risk)).astype(np.float64)
    h_created = h_time + rng.integers(0, 6 * 3_600_000_000, n_hist)
    credit_history = pd.DataFrame(
        {
            JOIN_KEY: (h_cust + 1).astype(np.int64),
            EVENT_TIMESTAMP: utc_series(h_time),
            CREATED_TIMESTAMP: utc_series(h_created),
            "total_balance": balance,
            "credit_utilisation": utilisation,
            "delinquencies_12m": delinquencies,
            "months_since_delinquency": months_since,
            "past_loans": past_loans,
            "inquiries_6m": inquiries,
        }
    )

    # Applications.
    a_cust = rng.integers(0, n_cust, rows)
    a_time = np.sort(rng.integers(start_us, end_us, rows))
    base_purposes = [p for p in PURPOSES if p != NEW_CATEGORY]
    purpose_p = np.array([0.35, 0.15, 0.18, 0.08, 0.09, 0.15])[: len(base_purposes)]
    purpose_idx = rng.choice(len(base_purposes), rows, p=purpose_p / purpose_p.sum())
    purpose = np.asarray(base_purposes, dtype=object)[purpose_idx]
    term = rng.choice(np.array([12, 24, 36, 48, 60], dtype=np.int64), rows)
    true_income = _round(base_income[a_cust] * np.exp(rng.normal(0.0, 0.08, rows)), 100.0)
    declared_income = np.where(rng.random(rows) < 0.01, 0.0, true_income)
    loan_amount = np.clip(_round(true_income * rng.uniform(0.03, 0.6, rows), 100.0), 500.0, 1_000_000.0)
    applications = pd.DataFrame(
        {
            "request_id": [f"app-{i:09d}" for i in range(rows)],
            JOIN_KEY: (a_cust + 1).astype(np.int64),
            "application_timestamp": utc_series(a_time),
            "loan_amount": loan_amount,
            "term_months": term,
            "purpose": purpose,
            "declared_income": declared_income,
        }
    )

    # Labels: the truth at what the model sees (the customer's latest bureau snapshot at the application,
    # the application's own ratios) plus a latent risk it sees only through noisy history; they arrive
    # 2-15 months after the application.
    latest = _latest_snapshot(h_cust, h_time, a_cust, a_time, first - 11 * day_us, end_us + 11 * day_us)
    ratios = application_matrix(
        {
            "loan_amount": loan_amount,
            "term_months": term,
            "purpose": purpose,
            "declared_income": declared_income,
            "home_ownership": np.asarray(HOME_OWNERSHIP, dtype=object)[home_idx[a_cust]],
            "total_balance": balance[latest],
        }
    )
    column = {name: j for j, name in enumerate(APPLICATION_FEATURES)}
    logit = default_logit(
        risk=risk[a_cust],
        utilisation=utilisation[latest],
        delinquencies=delinquencies[latest],
        months_since_delinquency=months_since[latest],
        inquiries=inquiries[latest],
        loan_to_income=ratios[:, column["loan_to_income"]],
        instalment_to_income=ratios[:, column["instalment_to_income"]],
        income_missing=ratios[:, column["income_missing"]],
        term=term.astype(np.float64),
        purpose=purpose,
        age=age[a_cust],
        years_employed=years_employed[a_cust],
        home_ownership=home_idx[a_cust],
        years=(a_time - micros(ECONOMY_EPOCH)) / (365 * day_us),
    )
    defaulted = (rng.random(rows) < _sigmoid(logit)).astype(np.int64)
    delay = rng.integers(LABEL_DELAY_DAYS[0] * day_us, LABEL_DELAY_DAYS[1] * day_us, rows)
    labels = pd.DataFrame(
        {
            "request_id": applications["request_id"],
            "defaulted": defaulted,
            "label_timestamp": utc_series(a_time + delay),
        }
    )

    drift_start_us = start_us + int((end_us - start_us) * (1 - DRIFT_FRACTION))
    drift_start = start + timedelta(microseconds=drift_start_us - start_us)
    if scen is not None:
        _apply_scenario(scen, seed, drift_start_us, credit_history, applications, labels, a_time, h_time)
    return GeneratedData(
        customers=customers,
        credit_history=credit_history,
        applications=applications,
        labels=labels,
        seed=seed,
        scenario=scen,
        start=start,
        end=end,
        drift_start=drift_start,
    )


def _apply_scenario(
    scenario: Scenario,
    seed: int,
    drift_start_us: int,
    credit_history: pd.DataFrame,
    applications: pd.DataFrame,
    labels: pd.DataFrame,
    a_time: np.ndarray,
    h_time: np.ndarray,
) -> None:
    """Change only SCENARIO_COLUMNS[scenario], only from drift_start on (in place)."""
    rng = np.random.default_rng([seed, list(Scenario).index(scenario) + 1])
    after = a_time >= drift_start_us
    if scenario is Scenario.INCOME_SHIFT:
        income = applications["declared_income"].to_numpy(copy=True)
        income[after] = _round(income[after] * 0.7, 100.0)
        applications["declared_income"] = income
    elif scenario is Scenario.NEW_CATEGORY:
        purpose = applications["purpose"].to_numpy(copy=True)
        purpose[after & (rng.random(len(purpose)) < 0.3)] = NEW_CATEGORY
        applications["purpose"] = purpose
    elif scenario is Scenario.MISSING_VALUES:
        h_after = h_time >= drift_start_us
        for column in SCENARIO_COLUMNS[scenario]["credit_history"]:
            values = credit_history[column].to_numpy(copy=True)
            values[h_after & (rng.random(len(values)) < 0.35)] = np.nan
            credit_history[column] = values
    elif scenario is Scenario.LABEL_SHIFT:
        y = labels["defaulted"].to_numpy(copy=True)
        y[after & (y == 0) & (rng.random(len(y)) < 0.15)] = 1
        labels["defaulted"] = y


def write(data: GeneratedData, out: Path) -> dict[str, Path]:
    """Write `<out>/<table>/<table>.parquet` plus `<out>/manifest.json` (steelthread_contracts.tables)."""
    return tables.write_tables(
        {name: data.table(name) for name in TABLES},
        SCHEMAS,
        out,
        seed=data.seed,
        scenario=data.scenario.value if data.scenario else None,
        start=data.start,
        end=data.end,
        drift_start=data.drift_start,
    )


def read(data_dir: Path, name: str) -> pd.DataFrame:
    """Read one generated table back as pandas (timestamps stay datetime64[us, UTC])."""
    return tables.read_table(data_dir, name, TABLES)
