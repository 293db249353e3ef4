"""Notebooks run top to bottom on small generated data, stay paired with their .py, and carry no outputs.

The notebooks explore the credit example (its tables, its income bands, its binary metrics), so their kernel
runs with `STEELTHREAD_USECASE=credit` whatever use case this session runs: the plumbing they call reads the
active use case from the kernel's environment.
"""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from steelthread_contracts.usecase import USECASE_ENV

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SCRIPTS = sorted(NOTEBOOKS.glob("*.py"))
NOTEBOOK_USE_CASE = "credit"
"""The use case the notebooks explore."""

# Jupyter's own stack (zmq, tornado, traitlets) warns about its event loop and paths; not our code.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
]


def test_there_are_notebooks() -> None:
    assert {p.stem for p in SCRIPTS} >= {"01_exploration", "02_experiment"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_paired_notebook_is_in_sync_and_stripped(script: Path) -> None:
    ipynb = script.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{ipynb.name} missing: run `jupytext --sync {script}`"
    notebook = nbformat.read(ipynb, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{ipynb.name} has outputs: nbstripout runs in pre-commit"
            assert cell.execution_count is None
    paired = [c.source for c in jupytext.read(script).cells]
    assert [c.source for c in notebook.cells] == paired, f"{ipynb.name} and {script.name} differ"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = jupytext.read(script)
    os.environ.setdefault("STEELTHREAD_NOTEBOOK_ROWS", "3000")
    monkeypatch.setenv(USECASE_ENV, NOTEBOOK_USE_CASE)  # the kernel inherits this process's environment
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    errors = [
        o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert errors == []
