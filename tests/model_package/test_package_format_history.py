"""Every reader loads every package format the repository has ever written.

`tests/fixtures/packages/format-1` was written by training's own code at commit 3791cf2, before the format
moved into `steelthread_contracts.package` (see its README). Training, serving, batch and monitoring read
it through the contract; a change that stops any of them loading it breaks deployed models and fails here.

The packages are the credit example's (binary, credit_risk_v1's features). Serving refuses a package of
another task than its use case's, and binds the use case at import, so its check runs in a process with
`STEELTHREAD_USECASE=credit` whatever use case this session runs: the format must load where it was deployed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from steelthread_batch import sessions
from steelthread_batch.package import resolve_package
from steelthread_contracts import package as contract
from steelthread_contracts.decision import Thresholds
from steelthread_contracts.usecase import USECASE_ENV
from steelthread_monitoring.reference import load_reference, resolve_reference_path
from steelthread_training.package import verify_package

FORMATS = sorted((Path(__file__).parents[1] / "fixtures" / "packages").glob("format-*"))
PACKAGE_USE_CASE = "credit"
"""The use case the fixture packages were written for."""

_SERVE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    from steelthread_contracts import package as contract
    from steelthread_contracts.decision import decide
    from steelthread_serving.package import load_package

    model = load_package(contract.resolve(Path(sys.argv[1])), ["CPUExecutionProvider"])
    thresholds = model.thresholds
    print(json.dumps({
        "version": model.version,
        "output": [model.output_name, model.output_column],
        "thresholds": [thresholds.review, thresholds.decline] if thresholds else None,
        "decision": decide(0.25, thresholds).value if thresholds else None,
    }))
    """
)


def test_there_is_a_fixture_for_every_supported_format() -> None:
    assert sorted(int(p.name.split("-")[1]) for p in FORMATS) == sorted(contract.SUPPORTED_FORMATS)


@pytest.fixture(params=FORMATS, ids=lambda p: p.name)
def models_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    copy = tmp_path / "models"
    shutil.copytree(request.param, copy)
    return copy


def test_the_contract_resolves_and_verifies_it(models_dir: Path) -> None:
    folder = contract.resolve(models_dir)
    manifest = contract.verify(folder)
    assert manifest.task is contract.Task.BINARY
    assert manifest.format_version in contract.SUPPORTED_FORMATS
    assert Thresholds.of(manifest) == Thresholds(review=0.2, decline=0.3)


def test_training_verifies_it_and_its_smoke_scores(models_dir: Path) -> None:
    assert verify_package(models_dir / "versions" / "1").version == "1"


def test_serving_loads_it_and_decides_by_the_policy(models_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")}
    result = subprocess.run(
        [sys.executable, "-c", _SERVE, str(models_dir)],
        env=env | {USECASE_ENV: PACKAGE_USE_CASE},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded == {
        "version": "1",
        "output": ["probabilities", 1],
        "thresholds": [0.2, 0.3],
        "decision": "review",
    }


def test_batch_resolves_it_and_reproduces_its_smoke_scores(models_dir: Path) -> None:
    package = resolve_package(models_dir)
    sessions.smoke_check(package)
    assert (package.version, package.input_name, package.threshold) == ("1", "features", 0.3)


def test_monitoring_reads_its_reference(models_dir: Path) -> None:
    reference = load_reference(resolve_reference_path(models_dir, "champion"))
    assert reference.model_version == "1"
    assert reference.threshold == 0.3
    assert len(reference.frame) == 50
