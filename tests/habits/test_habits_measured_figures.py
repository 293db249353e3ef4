"""Measured figures live in bench/RESULTS.md only: no timing, rate, ratio or size in prose or code comments.

A figure copied into a docstring or a README goes stale the day the code changes, and refreshing it
becomes work of its own (issue 23 counted most of a run of commits doing that). `make bench` writes the
figures with the machine and the date; prose points there. This test scans code comments and
docstrings, the Makefile's comments, the READMEs and docs/ (ADRs included) for a number followed by a
unit of time, rate, ratio or size. Settings, limits and targets are allowed by the small explicit list
below, each with its reason; anything else is a new measured figure and fails with its place.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FIGURE = re.compile(
    r"(?<![\w.])\d[\d,]*(?:\.\d+)?\s?(?:us|µs|ms|s|x|rows/s|req/s|KiB|MiB|GiB|KB|MB|GB)(?!\w)"
)
"""A number with a unit of time, rate, ratio or size: what a measurement reads like."""

ALLOWED: dict[str, str] = {
    r"250 ms": "the latency SLO threshold (alert rule and slo_check), a setting",
    r"500 ms by default": "STEELTHREAD_FLAGS_POLL_MS's default, a setting",
    r"\(default \d+ (?:s|ms)\)": "a setting's default, stated beside the setting's name",
    r"(?:under|<) 3 s|3 s target": "issue 5's cold-start target, a threshold",
    r"(?:under|<) 5 ms|5 ms target": "issue 2's skeleton-latency target, a threshold",
    r"0\.75 x threshold": "a constant of the old review band (ADR 0011), not a measurement",
    r"1e-\d x (?:rows|the largest)": "parity tolerance formulas, settings",
    r"--window 24x": "an example of bad input",
    r"\b[1-5]\d\ds\b": "HTTP status codes in the plural (500s, 413s)",
    r"'\d+s'": "a duration string the CLI parses, in its docstring",
    r"\b0s become 1": "label zeros in a scenario description",
    r"\b0s\b": "a zero duration as an option value (a label delay of none)",
}
"""Keep this short: every entry is a setting, a limit or a target, never something measured."""

MARKDOWN = sorted(
    {
        ROOT / "README.md",
        *ROOT.glob("apps/*/README.md"),
        *ROOT.glob("packages/*/README.md"),
        ROOT / "infra" / "README.md",
        *ROOT.glob("docs/*.md"),
        *ROOT.glob("docs/adr/*.md"),
    }
)
PYTHON_ROOTS = ("packages", "apps", "usecases", "examples", "scripts", ".github/scripts", "docs")


def _python_files() -> list[Path]:
    files = []
    for top in PYTHON_ROOTS:
        files += [p for p in (ROOT / top).rglob("*.py") if "tests" not in p.relative_to(ROOT).parts]
    return sorted(files)


def _python_prose(path: Path) -> list[tuple[int, str]]:
    """Comments and docstrings of a module, with their line numbers (code itself is not prose)."""
    text = path.read_text(encoding="utf-8")
    lines = [
        (tok.start[0], tok.string)
        for tok in tokenize.generate_tokens(io.StringIO(text).readline)
        if tok.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                value = body[0].value.value
                if isinstance(value, str):
                    lines += [(body[0].lineno + i, line) for i, line in enumerate(value.splitlines())]
    return lines


def _makefile_prose() -> list[tuple[int, str]]:
    out = []
    for number, line in enumerate((ROOT / "Makefile").read_text().splitlines(), 1):
        if line.lstrip().startswith("#"):
            out.append((number, line))
        elif help_text := re.match(r"^[\w-]+:.*?## (.*)$", line):
            out.append((number, help_text.group(1)))  # a target's help text
    return out


def figures(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The measured-looking figures in these lines that no allow-list entry covers."""
    found = []
    for number, line in lines:
        allowed = [m.span() for pattern in ALLOWED for m in re.finditer(pattern, line)]
        for match in FIGURE.finditer(line):
            start, end = match.span()
            if not any(a <= start and end <= b for a, b in allowed):
                found.append((number, match.group()))
    return found


@cache
def _prose() -> dict[str, list[tuple[int, str]]]:
    out = {str(p.relative_to(ROOT)): list(enumerate(p.read_text().splitlines(), 1)) for p in MARKDOWN}
    out |= {str(p.relative_to(ROOT)): _python_prose(p) for p in _python_files()}
    out["Makefile"] = _makefile_prose()
    return out


def test_no_measured_figures_in_comments_docstrings_or_docs() -> None:
    hits = [f"{name}:{n}: {fig!r}" for name, lines in _prose().items() for n, fig in figures(lines)]
    assert not hits, (
        "measured figures belong in bench/RESULTS.md (`make bench`), not in prose; point there instead, "
        "or, for a setting, limit or target, add it to ALLOWED with its reason:\n" + "\n".join(hits)
    )


def test_the_scan_covers_the_places_figures_used_to_live() -> None:
    """A scan that silently read nothing would pass forever: these files held figures before."""
    prose = _prose()
    for name in (
        "README.md",
        "apps/serving/README.md",
        "docs/batch.md",
        "docs/training.md",
        "docs/adr/0009-one-row-transforms-and-batched-scoring.md",
        "apps/serving/src/steelthread_serving/batching.py",
        "packages/features/src/steelthread_features/online.py",
        "Makefile",
    ):
        assert prose.get(name), f"{name} was not scanned"


@pytest.mark.parametrize(
    "line",
    [
        "a live prediction costs ~450 µs in-process",
        "import feast costs 6.6 s here",
        "live 0.41–0.45x of bare",
        "throughput 4,500 req/s at eight connections",
        "peak RSS 1.08 GiB",
        "the Feast read 0.5-0.8 ms per call",
        "# measured 12x faster",
    ],
)
def test_measured_figures_are_found(line: str) -> None:
    assert figures([(1, line)]), line


@pytest.mark.parametrize(
    "line",
    [
        "p99 latency above the 250 ms SLO",
        "the server follows within `STEELTHREAD_FLAGS_POLL_MS` (500 ms by default)",
        "Issue 5 asks for a cold start under 3 s",
        "500s after a deploy",
        "infra/k8s/base and k8s://host",
        "a tolerance of max(3, 1e-5 x rows) rows",
        "python3.11 and sha256 and x86_64",
    ],
)
def test_settings_limits_and_targets_are_allowed(line: str) -> None:
    assert not figures([(1, line)]), line
