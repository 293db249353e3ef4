"""The serving bench's Seldon MLServer contender (bench/seldon_mlserver.py), in-process: the repository it
writes runs MLServer the way the bench says (in-process, quiet, on the ports given, the LightGBM runtime
on the booster it was handed), its request is one V2 tensor of the rows, and a failed start is named by
its cause. Starting MLServer itself needs its own environment, so the bench run checks that part (it
scores the live package's smoke cases before measuring).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "steelthread_bench_mlserver", ROOT / "bench" / "seldon_mlserver.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_repository_runs_the_lightgbm_runtime_in_process_on_the_given_ports(tmp_path: Path) -> None:
    seldon = _module()
    seldon.write_repository(tmp_path, "m", "tree\n", http_port=1001, grpc_port=1002, metrics_port=1003)
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["parallel_workers"] == 0
    assert settings["debug"] is False
    assert (settings["http_port"], settings["grpc_port"], settings["metrics_port"]) == (1001, 1002, 1003)
    assert settings["host"] == "127.0.0.1"
    model = json.loads((tmp_path / "m" / "model-settings.json").read_text())
    assert model["name"] == "m"
    assert model["implementation"] == "mlserver_lightgbm.LightGBMModel"
    assert (tmp_path / "m" / model["parameters"]["uri"]).read_text() == "tree\n"
    assert seldon.infer_path("m") == "/v2/models/m/infer"


def test_the_environment_pins_mlserver_exactly_and_runs_one_openmp_thread() -> None:
    seldon = _module()
    pins = seldon.requirements()
    assert f"mlserver=={seldon.MLSERVER_VERSION}" in pins
    assert f"mlserver-lightgbm=={seldon.MLSERVER_LIGHTGBM_VERSION}" in pins
    assert all("==" in pin for pin in pins), pins
    assert seldon.process_env()["OMP_NUM_THREADS"] == "1"
    assert seldon.ENV_DIR.relative_to(ROOT).parts[0] == "var"  # ignored by git


def test_the_request_is_one_fp32_tensor_of_the_rows_and_the_answer_its_predict_output() -> None:
    seldon = _module()
    body = json.loads(seldon.infer_body([[0.5, 1.0, -2.0], [3.0, 0.0, 1.5]]))
    (tensor,) = body["inputs"]
    assert tensor["shape"] == [2, 3]
    assert tensor["datatype"] == "FP32"
    assert tensor["data"] == [0.5, 1.0, -2.0, 3.0, 0.0, 1.5]
    answer = {"outputs": [{"name": "predict", "shape": [2, 1], "datatype": "FP64", "data": [0.25, 0.75]}]}
    assert seldon.scores(answer) == [0.25, 0.75]
    with pytest.raises(seldon.MLServerUnavailableError, match="without a `predict` output"):
        seldon.scores({"outputs": [{"name": "other", "data": [1.0]}]})


def test_a_failed_start_is_named_by_its_cause_not_by_the_shutdown_after_it() -> None:
    seldon = _module()
    log = (
        "2026-12-07 03:53:55,381 [mlserver] ERROR - Some of the models failed to load during startup!\n"
        "    raise LightGBMError(_LIB.LGBM_GetLastError().decode('utf-8'))\n"
        "lightgbm.basic.LightGBMError: Unknown model format or submodel type in model file model.txt\n"
        "asyncio.exceptions.CancelledError\n"
        "2026-12-07 03:53:55,900 [mlserver.grpc] INFO - gRPC server shutdown complete\n"
    )
    assert seldon.failure(log).startswith("lightgbm.basic.LightGBMError: Unknown model format")
    assert seldon.failure("starting\n  address already in use\n") == "address already in use"
    assert seldon.failure("") == "(no log)"


def test_the_committed_lock_pins_every_package_and_what_the_bench_asks_for() -> None:
    """The environment is synced to the lock, so the lock must hold MLServer, its runtime and the
    workspace's LightGBM exactly, and nothing unpinned."""
    seldon = _module()
    seldon.check_lock()
    pins = seldon.locked()
    for requirement in seldon.requirements():
        name, version = requirement.split("==")
        assert pins[name] == version
    assert {"fastapi", "uvicorn", "numpy"} <= pins.keys()  # what it pulls in is pinned too
    lines = [
        line
        for line in seldon.LOCK.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert all("==" in line for line in lines), [line for line in lines if "==" not in line]


def test_a_lock_that_no_longer_matches_names_the_command_that_writes_it_again(tmp_path: Path) -> None:
    seldon = _module()
    stale = tmp_path / "mlserver-requirements.txt"
    stale.write_text(seldon.LOCK.read_text().replace("\nlightgbm==", "\nlightgbm==0.0.1+"))
    with pytest.raises(
        seldon.MLServerUnavailableError, match=r"pins lightgbm==0\.0\.1.*bench/seldon_mlserver.py lock"
    ):
        seldon.check_lock(stale)
    missing = tmp_path / "empty.txt"
    missing.write_text("# nothing\n")
    with pytest.raises(seldon.MLServerUnavailableError, match="pins no mlserver"):
        seldon.check_lock(missing)
