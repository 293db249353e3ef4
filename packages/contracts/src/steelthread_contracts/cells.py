"""How a value reads in a table cell, in every table the project prints: the CLIs' Rich tables
(`steelthread-train`, `steelthread-eval`, `steelthread-experiment`) and the training review's markdown
(the pull-request comment and the workflow's job summary). One owner, so a missing metric reads the same
wherever it shows. Standard library only.
"""

from __future__ import annotations

import math
from typing import Any, Final

MISSING: Final = "n/a"
"""How a value that is not there (null, NaN, a metric one model lacks) reads in every table."""


def cell(value: Any) -> str:
    """A number to four significant digits, a flag as yes/no, a missing or non-finite value as `MISSING`,
    anything else as its text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return MISSING if not math.isfinite(value) else f"{value:.4g}"
    if value is None:
        return MISSING
    return str(value)
