"""The fork guide names every file a fork edits outside its use-case folder, and they are few.

docs/how-to-fork.md lists them between two markers; this test counts the list, checks each file exists,
and checks that the list's first entry really is the registry line (the default use case). That a fork
needs nothing else is shown by the second shipped example: `usecases/delivery` runs the whole loop
(tests/demo) with no name of it in the plumbing (test_usecase_names.py) and no line of it in
pyproject.toml's layering or type-checking configuration.
"""

from __future__ import annotations

import re

from helpers.workspace import ROOT, read_toml
from steelthread_contracts import usecase

GUIDE = ROOT / "docs" / "how-to-fork.md"
MAX_OUTSIDE = 4
"""Registry line, README line, alert thresholds (the one rule file that Prometheus and the monitor
workflow evaluate), runbook."""


def listed_files() -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    block = text.split("<!-- fork-files-outside-the-folder -->", 1)[1].split("<!-- end-fork-files -->", 1)[0]
    return re.findall(r"^- `([^`]+)`", block, flags=re.MULTILINE)


def test_the_guide_lists_few_files_outside_the_use_case_folder_and_they_exist() -> None:
    files = listed_files()
    assert 1 <= len(files) <= MAX_OUTSIDE, files
    assert not [f for f in files if not (ROOT / f).is_file()]
    assert not [f for f in files if f.startswith("usecases/")]


def test_the_registry_line_is_the_default_use_case() -> None:
    registry = ROOT / listed_files()[0]
    assert registry == ROOT / "packages/contracts/src/steelthread_contracts/usecase.py"
    assert f'DEFAULT_USECASE: Final = "{usecase.DEFAULT_USECASE}"' in registry.read_text(encoding="utf-8")


def test_the_second_example_is_named_nowhere_in_the_root_configuration() -> None:
    """A new folder is found by globs: the workspace, CI's use-case job and the layering test need no line."""
    root = read_toml(ROOT / "pyproject.toml")
    assert "usecases/*" in root["tool"]["uv"]["workspace"]["members"]
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "delivery" not in config
    ci = (ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    assert "delivery" not in ci
