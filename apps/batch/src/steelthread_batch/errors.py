"""The batch app's user-facing error: the CLI prints its message as one line and exits non-zero."""

from __future__ import annotations


class BatchInputError(ValueError):
    """Bad input, a missing model package, an unreadable URI: something the caller can fix."""
