"""Reading runbook pages: their `## ` sections (shared by the page and the command tests)."""

from __future__ import annotations

import re
from pathlib import Path


def sections(page: Path) -> dict[str, str]:
    """A page's `## ` sections by heading."""
    parts = re.split(r"^## (.+)$", page.read_text(), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))
