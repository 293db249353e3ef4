"""One configuration vocabulary: the reference page, the names the code reads and the start-up check agree.

- `make config-docs` output is up to date (page and generated name list), whatever use case runs it;
- every name the page documents is read by the code, and every `STEELTHREAD_*` name the code, scripts,
  manifests and runbooks use is documented;
- every app and CLI refuses an unknown `STEELTHREAD_*` variable with one line naming the closest valid
  name and exit code 2;
- the folders of the deployment derive from one root in every app's settings.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from steelthread_contracts.env_names import SETTINGS_VARIABLES
from steelthread_contracts.settings import (
    LAYOUT,
    OTHER_VARIABLES,
    RENAMED,
    DeploymentSettings,
    UnknownVariableError,
    check_environment,
)
from steelthread_contracts.usecase import USECASE_ENV

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "configuration.md"
NAME = re.compile(r"STEELTHREAD_[A-Z0-9_]*[A-Z0-9]")
# Where names are used: code, scripts, manifests, workflows, runbooks and the prose docs. GitHub
# configuration variables and secrets (`vars.X`, `secrets.X`) are not environment variables of our code.
SCANNED = [
    *ROOT.glob("packages/*/src/**/*.py"),
    *ROOT.glob("apps/*/src/**/*.py"),
    *ROOT.glob("usecases/*/src/**/*.py"),
    *ROOT.glob("examples/*/src/**/*.py"),
    *ROOT.glob("scripts/*"),
    *ROOT.glob("notebooks/*.py"),
    *ROOT.glob("tests/helpers/*.py"),
    *ROOT.glob("tests/fixtures/**/*.py"),
    *ROOT.glob("infra/**/*.y*ml"),
    *ROOT.glob("infra/**/*.env*"),
    *ROOT.glob(".github/**/*.y*ml"),
    *ROOT.glob(".github/**/*.py"),
    *ROOT.glob("runbooks/*.md"),
    *ROOT.glob("docs/*.md"),
    ROOT / "Makefile",
    ROOT / "README.md",
]
THIS_REGISTRY = ROOT / "packages" / "contracts" / "src" / "steelthread_contracts" / "settings.py"
CLIS = [
    ["steelthread-data", "generate"],
    ["steelthread-features", "apply"],
    ["steelthread-train", "run"],
    ["steelthread-promote", "status"],
    ["steelthread-audit"],
    ["steelthread-batch", "--help"],
    ["steelthread-monitor", "run"],
    ["steelthread-serve"],
    ["steelthread-consumer-example"],
    ["python", str(ROOT / "scripts" / "demo.py")],
]


def _clean_env(**extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")} | extra


def _documented() -> set[str]:
    rows = re.findall(r"^\| `(STEELTHREAD_[A-Z0-9_]+)` \|", PAGE.read_text(encoding="utf-8"), re.M)
    return set(rows) - set(RENAMED)


def _github_variables() -> set[str]:
    """Configuration variables and secrets of the GitHub workflows (docs/operations.md lists them)."""
    found: set[str] = set()
    for path in ROOT.glob(".github/**/*.y*ml"):
        found |= set(re.findall(r"\b(?:vars|secrets)\.(STEELTHREAD_\w+)", path.read_text(encoding="utf-8")))
    return found


def _used() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for path in SCANNED:
        if not path.is_file() or path == PAGE:
            continue
        text = re.sub(r"\b(?:vars|secrets)\.STEELTHREAD_\w+", "", path.read_text(encoding="utf-8"))
        for name in NAME.findall(text):
            used.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return used


@pytest.mark.parametrize("usecase", ["credit", "delivery"])
def test_make_config_docs_output_is_up_to_date_whatever_the_use_case(usecase: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "gen_config_reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=_clean_env(**{USECASE_ENV: usecase}),
    )
    assert result.returncode == 0, result.stderr + "\nregenerate with: make config-docs"


def test_every_documented_name_is_read_by_the_code() -> None:
    read = SETTINGS_VARIABLES | set(OTHER_VARIABLES)
    assert _documented() == read, (
        f"documented, not read: {sorted(_documented() - read)}; read, not documented: "
        f"{sorted(read - _documented())}"
    )
    used = _used()
    unread = [name for name in OTHER_VARIABLES if not (used.get(name, set()) - {str(THIS_REGISTRY)})]
    assert not unread, f"registered in OTHER_VARIABLES but used nowhere: {unread}"


def test_every_name_the_code_and_the_docs_use_is_documented() -> None:
    documented = _documented() | _github_variables()
    undocumented = {
        name: sorted(files)
        for name, files in _used().items()
        if name not in documented
        and not (name in RENAMED and files <= {str(THIS_REGISTRY.relative_to(ROOT))})
    }
    assert not undocumented, f"STEELTHREAD_* names used but not documented (or renamed): {undocumented}"


def test_one_root_moves_every_folder_of_every_app(tmp_path: Path) -> None:
    from steelthread_batch.settings import BatchSettings
    from steelthread_features.settings import FeatureSettings
    from steelthread_monitoring.settings import MonitorSettings
    from steelthread_serving.settings import ServingSettings
    from steelthread_training.settings import TrainingSettings

    root = tmp_path / "state"
    env = {"STEELTHREAD_DATA_DIR": str(root), "STEELTHREAD_MODELS_DIR": str(tmp_path / "elsewhere")}
    old = {
        k: os.environ.pop(k) for k in list(os.environ) if k.startswith("STEELTHREAD_") and k != USECASE_ENV
    }
    os.environ.update(env)
    try:
        os.environ["STEELTHREAD_API_KEYS"] = "a-key-long-enough-for-the-check"
        classes: list[type[DeploymentSettings]] = [
            FeatureSettings, TrainingSettings, ServingSettings, MonitorSettings, BatchSettings,
        ]  # fmt: skip
        for cls in classes:
            settings = cls()
            assert settings.data_dir == root
            assert settings.models_dir == tmp_path / "elsewhere", cls
            for name, folder in LAYOUT.items():
                if name != "models_dir":
                    assert getattr(settings, name) == root / folder, (cls, name)
    finally:
        for key in [*env, "STEELTHREAD_API_KEYS"]:
            os.environ.pop(key, None)
        os.environ.update(old)
    # None (as tests pass it to ignore the calling shell) is the folder under the root too.
    assert FeatureSettings(data_dir=root, tables_dir=None).tables_dir == root / "data"


def test_a_misspelt_variable_names_the_closest_valid_one() -> None:
    with pytest.raises(UnknownVariableError) as caught:
        check_environment({"STEELTHREAD_DATA_DRI": "x", "STEELTHREAD_DATA_DIR": "y", "PATH": "/bin"})
    assert str(caught.value) == (
        "unknown environment variable STEELTHREAD_DATA_DRI (did you mean STEELTHREAD_DATA_DIR?); "
        "valid names: docs/configuration.md"
    )
    with pytest.raises(
        UnknownVariableError, match=r"STEELTHREAD_FEATURES_DATA_DIR \(renamed: use STEELTHREAD_TABLES_DIR\)"
    ):
        check_environment({"STEELTHREAD_FEATURES_DATA_DIR": "x"})
    with pytest.raises(UnknownVariableError, match=r"STEELTHREAD_ZZZZ \(no close name\)"):
        check_environment({"STEELTHREAD_ZZZZ": "x"})
    check_environment({name: "x" for name in SETTINGS_VARIABLES | set(OTHER_VARIABLES)})


def test_every_app_and_cli_refuses_an_unknown_variable_at_start_up() -> None:
    """Started side by side: one line naming the closest valid name, exit 2, for every entry point."""
    bindir = Path(sys.executable).parent
    env = _clean_env(STEELTHREAD_MODELS_DRI="/nowhere", STEELTHREAD_DATA_DIR="/nonexistent-state-root")
    running = {
        " ".join(cli[:2]): subprocess.Popen(
            [str(bindir / cli[0]), *cli[1:]],  # the venv's python for the demo
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cli in CLIS
    }
    failures = []
    for name, process in running.items():
        out, err = process.communicate(timeout=300)
        lines = err.strip().splitlines()
        expected = (
            "error: unknown environment variable STEELTHREAD_MODELS_DRI "
            "(did you mean STEELTHREAD_MODELS_DIR?); valid names: docs/configuration.md"
        )
        if process.returncode != 2 or lines != [expected] or out:
            failures.append(
                f"{name}: exit {process.returncode}, stdout {out[-300:]!r}, stderr {err[-600:]!r}"
            )
    assert not failures, "\n".join(failures)
