"""Every ```bash runnable block of every runbook runs (bash -euo pipefail) against a local deployment.

A runbook page is a sequence: its blocks run in order in the same deployment, so a later block may rely
on an earlier one (e.g. a flag change and its check). Flags and the latest run are restored per page.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers.packages import make_constant_package, make_package, promote
from helpers.runbooks import sections
from helpers.serving import API_KEY, running, serves
from helpers.usecase import USE_CASE
from helpers.world import build_world
from steelthread_monitoring.job import RunOptions, run_monitoring
from steelthread_monitoring.localstack import start_prometheus, wait_for_target_up
from steelthread_monitoring.synthetic import write_deployment
from steelthread_serving.settings import DEFAULT_FLAGS_PATH, ServingSettings

REPO = Path(__file__).resolve().parents[2]
RUNBOOKS = REPO / "runbooks"
BLOCK = re.compile(r"```bash runnable\n(.*?)```", re.DOTALL)


def runnable_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


def run_block(block: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


PAGES = [p for p in sorted(RUNBOOKS.glob("*.md")) if runnable_blocks(p)]


def test_most_pages_have_runnable_commands() -> None:
    assert len(PAGES) >= 15, [p.name for p in PAGES]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_runnable_blocks_succeed(page: Path, local_deployment: Any) -> None:
    local_deployment.reset()
    for number, block in enumerate(runnable_blocks(page), start=1):
        result = run_block(block, local_deployment.env)
        assert result.returncode == 0, (
            f"{page.name} block {number} exited {result.returncode}:\n{block}\n"
            f"--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-3000:]}"
        )
        assert result.stdout.strip() != "null", f"{page.name} block {number} printed only null"


def test_flags_invalid_page_confirms_and_fixes_a_broken_flag_file(local_deployment: Any) -> None:
    """The page's commands under the condition it is for: the deployment's flag file is broken."""
    local_deployment.reset()
    confirm, check, mitigate, verify = runnable_blocks(RUNBOOKS / "flags-invalid.md")

    def confirm_until(expected: str) -> subprocess.CompletedProcess[str]:
        deadline = time.monotonic() + 10
        while expected not in (shown := run_block(confirm, local_deployment.env)).stdout:
            assert time.monotonic() < deadline, shown.stdout + shown.stderr
            time.sleep(0.2)
        return shown

    confirm_until('"mode": "skeleton"')  # the pristine flags are in effect: the last good ones from here
    local_deployment.flags_path.write_text("{not json")
    shown = confirm_until("Could not parse JSON")
    assert shown.returncode == 0, shown.stderr  # /readyz still answers 200
    assert "steelthread_flags_valid 0.0" in shown.stdout
    assert '"mode": "skeleton"' in shown.stdout  # the last good mode, not an error
    checked = run_block(check, local_deployment.env)
    assert checked.returncode == 2
    assert checked.stderr.startswith("error: flag file")
    assert "not valid JSON" in checked.stderr
    fixed = run_block(mitigate, local_deployment.env)
    assert fixed.returncode == 0, fixed.stderr
    verified = run_block(verify, local_deployment.env)
    assert (verified.returncode, verified.stdout.strip()) == (0, "true"), verified.stderr


def _until(check, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


@pytest.mark.slow
def test_canary_page_aborts_a_failing_canary_to_stable(tmp_path: Path) -> None:
    """The page's commands under the condition it is for: a new champion that fails on every request,
    stable beside it, real traffic and a real Prometheus. The page's check decides abort for the right
    reason, and its abort block sends every customer to stable."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed (Debian package `prometheus`; `make tools` installs it)"
    before, start, watch, decide, abort = runnable_blocks(RUNBOOKS / "canary.md")[:5]
    world = build_world(tmp_path / "world")
    models = tmp_path / "models"
    make_package(models, "1", seed=1)
    make_constant_package(models, "2", USE_CASE.score_range[0] - 1.0)  # every score invalid
    promote(models, "1")
    promote(models, "2")
    flags = tmp_path / "flags.json"
    shutil.copy(DEFAULT_FLAGS_PATH, flags)
    settings = ServingSettings(
        data_dir=world.root,
        models_dir=models,
        prediction_log_dir=tmp_path / "log",
        feedback_dir=tmp_path / "feedback",
        api_keys=[API_KEY],  # type: ignore[list-item]
        flags_path=flags,
        flags_poll_ms=50,
        model_poll_ms=100,
    )
    requests = [r.model_dump(mode="json", exclude_none=True) for r in world.requests(100)]
    with running(settings) as live, live.client() as client:
        _until(lambda: serves(live, "2", "1"))
        prometheus = start_prometheus(
            binary,
            REPO / "infra" / "prometheus" / "prometheus.yml",
            live.url.removeprefix("http://"),
            tmp_path,
        )
        try:
            wait_for_target_up(prometheus.url)
            env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")}
            env |= {
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
                "STEELTHREAD_URL": live.url,
                "STEELTHREAD_METRICS_URL": live.url,  # no STEELTHREAD_METRICS_PORT here: the API's
                "STEELTHREAD_API_KEY": API_KEY,
                "STEELTHREAD_FLAGS_PATH": str(flags),
                "PROMETHEUS_URL": prometheus.url,
            }
            shown = run_block(before, env)
            assert shown.returncode == 0, shown.stderr
            assert '"stable": "1"' in shown.stdout
            started = run_block(start, env)
            assert started.returncode == 0, started.stderr

            def send(rounds: int) -> None:
                for _ in range(rounds):
                    for request in requests:
                        assert client.post("/v1/predictions", json=request).status_code == 200

            send(1)  # the series exist before the traffic that is judged
            time.sleep(2.5)
            send(30)  # about 5 % of 100 entities x 30: enough canary predictions for the check's minimum
            time.sleep(2.5)
            watched = run_block(watch, env)
            assert watched.returncode == 0, watched.stderr
            assert '"outcome": "model_error"' in watched.stdout
            decided = run_block(decide, env)
            assert decided.returncode == 0, decided.stderr
            assert "decision: abort" in decided.stdout
            assert "ABORT: canary v2" in decided.stderr
            assert "model-error share vs stable" in decided.stderr
            aborted = run_block(abort, env)
            assert aborted.returncode == 0, aborted.stderr
            answers = [client.post("/v1/predictions", json=r).json() for r in requests]
            assert {(a["model_version"], a["degraded"]) for a in answers} == {("1", False)}
        finally:
            prometheus.stop()


def test_verify_fails_while_the_alert_holds(tmp_path: Path) -> None:
    """A Verify block is not a formality: model-stale's fails on a run whose model is past the rule's age
    (read from the rule file, which the staleness backtest sets), and names the alert."""
    from steelthread_training.staleness import rule_days

    rules = REPO / "infra" / "prometheus" / "rules" / "steelthread-model.yml"
    stale = timedelta(days=rule_days(rules.read_text(encoding="utf-8")) + 10)
    data_dir = tmp_path / "var"
    now = datetime.now(UTC)
    deployment = write_deployment(data_dir, 500, now - timedelta(minutes=5), package_created_at=now - stale)
    textfile = data_dir / "textfile" / "steelthread_monitor.prom"
    run_monitoring(
        RunOptions(
            window=timedelta(hours=24),
            log_dir=deployment.log_dir,
            feedback_dir=deployment.feedback_dir,
            models_dir=deployment.models_dir,
            out_dir=data_dir / "monitoring",
            textfile=textfile,
        )
    )
    verify = sections(RUNBOOKS / "model-stale.md")["How to verify"]
    (block,) = BLOCK.findall(verify)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")}
    env |= {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}
    env |= {"STEELTHREAD_DATA_DIR": str(data_dir)}
    result = run_block(block, env)
    assert result.returncode != 0, result.stdout
    assert result.stdout == ""  # grep -v dropped the one line, which named the alert
    judged = run_block(block.rsplit("|", 1)[0], env)  # the judgement alone: it ran, and the alert fires
    assert judged.returncode == 0, judged.stderr
    assert "alert=true" in judged.stdout
    assert "SteelthreadModelStale" in judged.stdout
