"""The Terraform files follow `terraform fmt` layout, so the infra workflow's `terraform fmt -check` agrees.

`terraform fmt` is not available offline; this checks the rules it enforces that hand edits break most:
two-space indentation, no tabs or trailing blanks, one final newline, and `=` aligned across consecutive
single-line attributes (a blank line, a comment, a nested block or a multi-line value ends the run, as in
hclwrite's formatter).
"""

from __future__ import annotations

from pathlib import Path

import pytest

OPEN, CLOSE = "([{", ")]}"
TERRAFORM = Path(__file__).resolve().parents[2] / "infra" / "terraform"
FILES = sorted(
    p for p in TERRAFORM.rglob("*") if p.suffix in {".tf", ".tfvars", ".hcl"} and ".terraform" not in p.parts
)


def bracket_net(text: str) -> int:
    net, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch == "#":
            break
        elif ch in OPEN:
            net += 1
        elif ch in CLOSE:
            net -= 1
    return net


def assignment(line: str) -> tuple[str, str] | None:
    """(lead, value) when the line is a one-line `name = value` attribute, else None."""
    in_string, escaped = False, False
    for i, ch in enumerate(line):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch == "#":
            return None
        elif ch == "=":
            before = line[i - 1] if i else ""
            after = line[i + 1] if i + 1 < len(line) else ""
            if before in "=!<>" or after in "=>":
                continue
            lead, value = line[:i], line[i + 1 :]
            if not lead.strip() or bracket_net(value) != 0:
                return None
            return lead, value
    return None


def misaligned(text: str) -> list[int]:
    """1-based line numbers whose `=` is not where terraform fmt puts it."""
    bad: list[int] = []
    run: list[tuple[int, str]] = []

    def close() -> None:
        if run:
            width = max(len(assignment(line)[0].rstrip()) for _, line in run)  # type: ignore[index]
            for number, line in run:
                lead, value = assignment(line)  # type: ignore[misc]
                if (
                    len(lead) != width + 1
                    or not lead.endswith(" ")
                    or not value.startswith(" ")
                    or value.startswith("  ")
                ):
                    bad.append(number)
        run.clear()

    for number, line in enumerate(text.split("\n"), start=1):
        if assignment(line) is None:
            close()
        else:
            run.append((number, line))
    close()
    return bad


def test_alignment_checker_catches_what_terraform_fmt_fixes() -> None:
    good = 'a   = 1\nbcd = "x=y"\n\nlong_name = {\n  k = 1\n}\n'
    assert misaligned(good) == []
    assert misaligned("a = 1\nbcd = 2\n") == [1]
    assert misaligned("a  = 1\nb  = 2\n") == [1, 2]
    assert misaligned('x = can(regex("a==b", y)) && z >= 1\n') == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_file_is_terraform_fmt_clean(path: Path) -> None:
    text = path.read_text()
    assert "\t" not in text, "tabs"
    assert "\r" not in text, "CRLF line endings"
    assert text.endswith("\n"), "missing final newline"
    assert not text.endswith("\n\n"), "blank lines at the end"
    for number, line in enumerate(text.split("\n"), start=1):
        assert line == line.rstrip(), f"line {number}: trailing whitespace"
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0, f"line {number}: indentation must be a multiple of two spaces"
    assert misaligned(text) == [], f"`=` not aligned as terraform fmt would on lines {misaligned(text)}"


def test_there_are_terraform_files() -> None:
    assert len(FILES) > 40
