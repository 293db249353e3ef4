"""Notebooks run top to bottom on small generated data, stay paired with their .py, and carry no outputs.

They run the way a person runs them, `jupytext --to ipynb --execute` (nbconvert underneath), on a copy.
Syncing and stripping are stable: a sync of an untouched pair and the pre-commit strip change nothing, and a
new cell leaves the other cells' ids alone. The notebooks explore the credit example (its tables, its income
bands, its binary metrics), so their kernel runs with `STEELTHREAD_USECASE=credit` whatever use case this
session runs: the plumbing they call reads the active use case from the kernel's environment. Bands and
thresholds come from the training configuration, never from the notebook.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

from steelthread_contracts.usecase import USECASE_ENV

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
BIN = Path(sys.executable).parent
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


def strip_command() -> list[str]:
    """The pre-commit hook's own nbstripout command (its arguments included), from this environment."""
    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"]
    entry = next(h["entry"] for repo in hooks for h in repo["hooks"] if h["id"] == "nbstripout")
    words = shlex.split(entry)
    return [str(BIN / "nbstripout"), *words[words.index("nbstripout") + 1 :]]


def jupytext_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "jupytext"), *args], cwd=cwd, capture_output=True, text=True, timeout=900, check=False
    )


def paired_copy(script: Path, folder: Path) -> tuple[Path, Path]:
    """The pair in a folder of its own, with the repository's jupytext configuration."""
    folder.mkdir()
    shutil.copy(ROOT / "pyproject.toml", folder / "pyproject.toml")
    shutil.copy(script, folder / script.name)
    shutil.copy(script.with_suffix(".ipynb"), folder / script.with_suffix(".ipynb").name)
    return folder / script.name, folder / script.with_suffix(".ipynb").name


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_jupytext_execute_runs_the_notebook_top_to_bottom(script: Path, tmp_path: Path) -> None:
    """What the guide says to run: `jupytext --to ipynb --execute`, here on a copy, in the dev environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")}
    env |= {
        USECASE_ENV: NOTEBOOK_USE_CASE,  # the kernel inherits this process's environment
        "STEELTHREAD_NOTEBOOK_ROWS": os.environ.get("STEELTHREAD_NOTEBOOK_ROWS", "3000"),
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    }
    copy = tmp_path / script.name
    shutil.copy(script, copy)
    executed = tmp_path / "executed.ipynb"
    result = subprocess.run(
        [str(BIN / "jupytext"), "--to", "ipynb", "--execute", "--output", str(executed), str(copy)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    notebook = nbformat.read(executed, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code
    assert all(c.execution_count is not None for c in code), "every code cell ran"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert errors == []


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_notebook_reads_bands_and_thresholds_from_the_training_configuration(script: Path) -> None:
    """No income-band edges or decision thresholds written into a notebook: they come from load_config()."""
    code = "\n".join(c.source for c in jupytext.read(script).cells if c.cell_type == "code")
    # The closing `assert`s are the notebook's own smoke checks (the run made sense), not decisions.
    code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith("assert "))
    assert "load_config()" in code
    literal_lists = re.findall(r"\[\s*\d[\d_.]*\s*(?:,\s*\d[\d_.]*\s*)+\]", code)
    assert literal_lists == [], (
        f"{script.name} hard-codes {literal_lists}: read them from the training config"
    )
    fractions = re.findall(r"(?<![\w.])0\.\d+(?![\w.])", code)
    assert fractions == [], f"{script.name} hard-codes {fractions}: read thresholds from the training config"


def test_the_configuration_check_finds_a_hard_coded_threshold() -> None:
    code = "results = evaluate(name, split.test, y, p, 0.2, config.slices)\nbands = [0, 30_000, 60_000]"
    assert re.findall(r"(?<![\w.])0\.\d+(?![\w.])", code) == ["0.2"]
    assert re.findall(r"\[\s*\d[\d_.]*\s*(?:,\s*\d[\d_.]*\s*)+\]", code) == ["[0, 30_000, 60_000]"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_sync_and_strip_of_an_untouched_pair_change_nothing(script: Path, tmp_path: Path) -> None:
    py, ipynb = paired_copy(script, tmp_path / "pair")
    before = (py.read_bytes(), ipynb.read_bytes())
    synced = jupytext_cli("--sync", py.name, cwd=py.parent)
    assert synced.returncode == 0, synced.stderr
    for _ in range(2):  # the hook runs on every commit: stripping twice is stripping once
        stripped = subprocess.run([*strip_command(), str(ipynb)], capture_output=True, text=True, check=False)
        assert stripped.returncode == 0, stripped.stderr
        assert (py.read_bytes(), ipynb.read_bytes()) == before, "an untouched notebook was rewritten"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_a_new_cell_leaves_the_other_cells_ids_alone(script: Path, tmp_path: Path) -> None:
    py, ipynb = paired_copy(script, tmp_path / "pair")
    ids_before = [c.id for c in nbformat.read(ipynb, as_version=4).cells]
    text = py.read_text()
    first_code = text.index("\n# %%\n")
    py.write_text(text[:first_code] + "\n# %%\nprint('a new cell')\n" + text[first_code:])
    os.utime(py, (ipynb.stat().st_mtime + 10, ipynb.stat().st_mtime + 10))  # the .py is the newer side
    synced = jupytext_cli("--sync", py.name, cwd=py.parent)
    assert synced.returncode == 0, synced.stderr
    stripped = subprocess.run([*strip_command(), str(ipynb)], capture_output=True, text=True, check=False)
    assert stripped.returncode == 0, stripped.stderr
    ids_after = [c.id for c in nbformat.read(ipynb, as_version=4).cells]
    assert len(ids_after) == len(ids_before) + 1
    assert [i for i in ids_after if i in ids_before] == ids_before, "existing cells were renumbered"
