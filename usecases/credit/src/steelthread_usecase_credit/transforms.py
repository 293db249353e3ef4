"""Request-time transforms: one definition of their arithmetic, for the offline and the online path.

Feast's on-demand view calls `application_features` for `get_historical_features` (training) and for
`get_online_features`. Serving's direct reader computes one row at a time with `application_row`,
where numpy's per-call overhead was most of the cost of a one-row frame:
both forms take their arithmetic from `_ratios`, written once for floats and arrays alike, and differ
only in how they branch (np.where against if). Only +, *, / are used, in the same order, so a row gives
bit-identical results alone, in a large frame, or through either form
(tests/features/test_features_definitions.py checks the two forms on generated and edge-case rows).
The plumbing reaches them through the use case declaration (`on_demand.frame` and `on_demand.row`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from steelthread_usecase_credit.domain import (
    APPLICATION_FEATURES,
    HOME_OWNERSHIP,
    INCOME_FLOOR,
    PURPOSES,
)

if TYPE_CHECKING:
    import pandas as pd

_N = TypeVar("_N", float, np.ndarray)
_NAN = float("nan")
ANNUAL_RATE = 0.12
"""Flat nominal rate used to turn amount and term into a comparable monthly instalment."""


def _floats(*columns: Any) -> np.ndarray:
    """The columns as rows of one float64 array (one conversion: online calls are a single row, where
    numpy's per-call overhead is the whole cost). Lists or object columns may hold None: it becomes NaN."""
    return np.array([c.to_numpy() if hasattr(c, "to_numpy") else c for c in columns], dtype=np.float64)


def _one_hot(values: Any, categories: tuple[str, ...], missing_is_nan: bool) -> np.ndarray:
    """One column per category; an unknown category is all zeros, a missing value NaN (if asked)."""
    raw = values.to_numpy(dtype=object) if hasattr(values, "to_numpy") else np.asarray(values, dtype=object)
    # One broadcast comparison, not one per category: online calls are one row, where numpy's per-call
    # overhead is the whole cost.
    out: np.ndarray = (raw[:, None] == np.asarray(categories, dtype=object)[None, :]).astype(np.float64)
    if missing_is_nan:
        missing = np.array([v is None or v != v for v in raw], dtype=bool)
        if missing.any():
            out[missing, :] = np.nan
    return out


_POSITION = {name: j for j, name in enumerate(APPLICATION_FEATURES)}
# The one-hot blocks are written as slices, so each category block must be contiguous and in order.
# (`application_row` writes its list in APPLICATION_FEATURES order by position: the bit-identity test in
# tests/features/test_features_definitions.py fails if the two orders part.)
for _prefix, _categories in (("home_ownership_", HOME_OWNERSHIP), ("purpose_", PURPOSES)):
    _first = _POSITION[_prefix + _categories[0]]
    if [_POSITION[_prefix + c] for c in _categories] != list(range(_first, _first + len(_categories))):
        raise RuntimeError(f"APPLICATION_FEATURES must keep the {_prefix}* columns together and in order")


def _ratios(amount: _N, term: _N, safe_income: _N, balance: _N) -> tuple[_N, _N, _N, _N]:
    """loan_to_income, instalment, instalment_to_income, debt_to_income: the one definition of the
    arithmetic, for a float row (`application_row`) and for array columns (`application_matrix`)."""
    instalment = amount * (1.0 + ANNUAL_RATE * term / 12.0) / term
    return amount / safe_income, instalment, instalment * 12.0 / safe_income, (balance + amount) / safe_income


def application_row(
    loan_amount: float,
    term_months: float,
    purpose: str,
    declared_income: float | None,
    home_ownership: str | None,
    total_balance: float | None,
) -> list[float]:
    """One row of `application_matrix`, in plain Python floats (the online path: one request, where
    numpy's per-call overhead would be most of the cost). Same inputs and meaning, NaN for missing."""
    amount, term = float(loan_amount), float(term_months)
    income = _NAN if declared_income is None else float(declared_income)
    balance = _NAN if total_balance is None else float(total_balance)
    income_missing = income != income or income <= 0.0
    safe_income = INCOME_FLOOR if income_missing else max(income, INCOME_FLOOR)
    loan_to_income, instalment, instalment_to_income, debt_to_income = _ratios(
        amount, term, safe_income, balance
    )
    row = [
        amount,
        term,
        income,
        float(income_missing),
        loan_to_income,
        instalment,
        instalment_to_income,
        debt_to_income,
    ]
    if home_ownership is None or home_ownership != home_ownership:  # None or NaN: unknown, not "none of"
        row += [_NAN] * len(HOME_OWNERSHIP)
    else:
        row += [1.0 if home_ownership == c else 0.0 for c in HOME_OWNERSHIP]
    row += [1.0 if purpose == c else 0.0 for c in PURPOSES]
    return row


def application_matrix(inputs: Mapping[str, Any] | pd.DataFrame) -> np.ndarray:
    """The request-time features as a float64 matrix in APPLICATION_FEATURES order.

    `inputs` maps loan_amount, term_months, purpose, declared_income, home_ownership and total_balance
    to equal-length columns (Series, arrays or lists; None = missing). Zero or missing income is
    explicit: `income_missing` is 1 and the ratios divide by INCOME_FLOOR, so the model sees a large
    finite ratio plus the flag instead of inf/NaN. A missing home ownership or balance (unknown
    customer, expired TTL) stays NaN, never 0.
    """
    amount, term, income, balance = _floats(
        inputs["loan_amount"], inputs["term_months"], inputs["declared_income"], inputs["total_balance"]
    )

    income_missing = np.isnan(income) | (income <= 0.0)
    safe_income = np.where(income_missing, INCOME_FLOOR, np.maximum(income, INCOME_FLOOR))
    loan_to_income, instalment, instalment_to_income, debt_to_income = _ratios(
        amount, term, safe_income, balance
    )

    matrix = np.empty((len(amount), len(APPLICATION_FEATURES)), dtype=np.float64)
    matrix[:, _POSITION["requested_amount"]] = amount
    matrix[:, _POSITION["loan_term"]] = term
    matrix[:, _POSITION["income"]] = income
    matrix[:, _POSITION["income_missing"]] = income_missing
    matrix[:, _POSITION["loan_to_income"]] = loan_to_income
    matrix[:, _POSITION["instalment"]] = instalment
    matrix[:, _POSITION["instalment_to_income"]] = instalment_to_income
    matrix[:, _POSITION["debt_to_income"]] = debt_to_income
    home = _POSITION[f"home_ownership_{HOME_OWNERSHIP[0]}"]
    matrix[:, home : home + len(HOME_OWNERSHIP)] = _one_hot(
        inputs["home_ownership"], HOME_OWNERSHIP, missing_is_nan=True
    )
    purpose = _POSITION[f"purpose_{PURPOSES[0]}"]
    matrix[:, purpose : purpose + len(PURPOSES)] = _one_hot(inputs["purpose"], PURPOSES, missing_is_nan=False)
    return matrix


def application_features(inputs: pd.DataFrame) -> pd.DataFrame:
    """Compute credit_risk_v1's request-time features (the on-demand view's body, offline and online).

    A thin frame wrapper around `application_matrix`, which online_vector calls directly.
    """
    import pandas as pd  # lazily: serving computes these online without importing pandas

    matrix = application_matrix(inputs)
    # One float block: cheap to build for a single online row, and already in service order.
    return pd.DataFrame(matrix, columns=list(APPLICATION_FEATURES), index=inputs.index)
