"""The feature library's errors, in a module that imports nothing heavy (serving imports it)."""

from __future__ import annotations


class FeatureInputError(ValueError):
    """Bad input to the feature library; `column` names the offending column or field."""

    def __init__(self, column: str | None, message: str) -> None:
        super().__init__(message)
        self.column = column


class FeatureRetrievalError(RuntimeError):
    """The store answered something unusable: rows lost or reordered, a table or value it cannot read."""
