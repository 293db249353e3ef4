"""The plumbing names no field of any shipped use case: they all come from the active declaration.

Every name a use case declares (entity and join key, request fields and their enum, tables and their time
and label columns, feature views and services, stored columns, slices, the protected attribute, the
transform's outputs, the API's score field) is looked for in the code of the plumbing: identifiers and
string literals, not comments or docstrings (those may describe the credit example as an example). A hit
means a fork would have to edit the plumbing, which the use-case seam exists to prevent.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from helpers.workspace import ROOT
from steelthread_contracts.usecase import UseCase, load, registered

PLUMBING = sorted(
    p for pattern in ("packages/*/src/**/*.py", "apps/*/src/**/*.py") for p in ROOT.glob(pattern)
)
SHIPPED = sorted(registered())

GENERIC: dict[str, str] = {
    "label": "the training frame's and the reference's generic label column",
    "labels": "a generic word (label values), not only a table name",
    "score": "the generic score column of the reference and batch output",
    "age": "a common word: the monitoring job's model age",
}
"""Declared names that are also the plumbing's own generic vocabulary, with the reason."""

EXCEPTIONS: dict[tuple[str, str], str] = {
    ("packages/contracts/src/steelthread_contracts/log.py", "customer_id"): (
        "prediction-log schema 1 named the entity key after the credit example; readers still accept it"
    ),
}
"""(file, name) pairs allowed to name a use case's field, with the reason."""


def declared_names(use_case: UseCase) -> set[str]:
    names = {
        use_case.entity.name,
        use_case.entity.join_key,
        use_case.feature_service,
        use_case.slice_service,
        use_case.on_demand.name,
        use_case.on_demand.request_source,
        use_case.texts.score_field,
        *use_case.request_names,
        *(f.enum_name for f in use_case.request_fields if f.enum_name),
        *(v.name for v in use_case.views),
        *(v.table for v in use_case.views),
        *(c for v in use_case.views for c in v.columns),
        *use_case.on_demand.features,
        *use_case.slices,
        use_case.tables.events,
        use_case.tables.labels,
        use_case.tables.event_time,
        use_case.tables.label,
        use_case.tables.label_time,
    }
    if use_case.protected_attribute:
        names.add(use_case.protected_attribute)
    return {n for n in names if n not in GENERIC}


def _docstring_lines(source: str) -> set[int]:
    """Lines of module, class and function docstrings and of bare string statements (attribute docs)."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for statement in body:
            value = statement.value if isinstance(statement, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                end = statement.end_lineno or statement.lineno
                lines.update(range(statement.lineno, end + 1))
    return lines


def code_words(path: Path) -> dict[str, int]:
    """Each word of the file's identifiers and string literals (docstrings and comments left out), with
    the first line it appears on."""
    source = path.read_text(encoding="utf-8")
    docs = _docstring_lines(source)
    words: dict[str, int] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if (
            token.type == tokenize.NAME
            or (token.type == tokenize.STRING and token.start[0] not in docs)
            or (token.type == tokenize.FSTRING_MIDDLE if hasattr(tokenize, "FSTRING_MIDDLE") else False)
        ):
            for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", token.string):
                words.setdefault(word, token.start[0])
    return words


def test_there_is_plumbing_to_check_and_more_than_one_use_case() -> None:
    assert len(PLUMBING) > 50
    assert len(SHIPPED) >= 2, SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_the_plumbing_names_no_field_of_the_use_case(name: str) -> None:
    names = declared_names(load(name))
    hits = [
        f"{path.relative_to(ROOT)}:{line}: {word}"
        for path in PLUMBING
        for word, line in sorted(code_words(path).items(), key=lambda item: item[1])
        if word in names and (str(path.relative_to(ROOT)), word) not in EXCEPTIONS
    ]
    assert not hits, f"use case {name!r} is named by the plumbing:\n" + "\n".join(hits)


def test_the_check_finds_a_name_in_code_but_not_in_a_docstring(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Scores `loan_amount` (credit example)."""\nCOLUMN = "loan_amount"\nx = 1  # purpose\n'
    )
    words = code_words(sample)
    assert words.get("loan_amount") == 2
    assert "purpose" not in words
    assert "Scores" not in words
