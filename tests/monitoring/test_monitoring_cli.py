"""`steelthread-monitor`: options, environment, one readable line and a distinct exit code per failure."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from steelthread_contracts.durations import format_duration
from steelthread_contracts.usecase import USECASE_ENV, active_name
from steelthread_monitoring.cli import app
from steelthread_monitoring.errors import ExitCode
from steelthread_monitoring.job import STAGES
from steelthread_monitoring.synthetic import LABEL_DELAY, Deployment, plan

NOW = "--now=2026-11-22T12:00:00+00:00"


def invoke(data_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["run", *args], env={"STEELTHREAD_DATA_DIR": str(data_dir)}, catch_exceptions=False
    )
    return result.exit_code, result.output


def test_missing_reference_exit_code(tmp_path: Path) -> None:
    code, output = invoke(tmp_path, NOW)
    assert code == ExitCode.MISSING_REFERENCE
    assert int(ExitCode.MISSING_REFERENCE) == 3
    assert output.strip().splitlines()[-1].startswith("error: ")  # after the JSON stage lines
    assert f"{tmp_path}/models/champion.json" in output
    assert "Traceback" not in output


def test_empty_window_exit_code(deployment_factory: Callable[..., Deployment], tmp_path: Path) -> None:
    deployment_factory()
    code, output = invoke(tmp_path, "--now=2026-12-01T00:00:00+00:00", "--window=1h")
    assert code == ExitCode.EMPTY_WINDOW
    assert int(ExitCode.EMPTY_WINDOW) == 4
    assert "no prediction-log rows" in output


def test_invalid_input_exit_code(deployment_factory: Callable[..., Deployment], tmp_path: Path) -> None:
    deployment = deployment_factory()
    (deployment.log_dir / "predictions-zz.jsonl").write_text('{"schema_version": 99}\n')
    code, output = invoke(tmp_path, NOW)
    assert code == ExitCode.INVALID_INPUT
    assert int(ExitCode.INVALID_INPUT) == 7
    assert "predictions-zz.jsonl" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--window=24x"], "use a positive number with s, m, h, d or w"),
        (["--window=0h"], "use a positive number"),
        (["--now=yesterday"], "is not an ISO 8601 time"),
        (["--min-labels=0"], "min-labels"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    code, output = invoke(tmp_path, *args)
    assert code == ExitCode.USAGE
    assert int(ExitCode.USAGE) == 2
    assert message in output


def test_console_script_end_to_end(deployment_factory: Callable[..., Deployment], tmp_path: Path) -> None:
    """The installed script in a real process, configured only through the environment."""
    deployment_factory(labelled_share=0.0)
    script = shutil.which("steelthread-monitor", path=str(Path(sys.executable).parent))
    assert script is not None, "steelthread-monitor is not installed in the venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")}
    env[USECASE_ENV] = active_name()  # the deployment is the active use case's
    env["STEELTHREAD_DATA_DIR"] = str(tmp_path)
    env["STEELTHREAD_MONITOR_TEXTFILE"] = str(tmp_path / "textfile" / "monitor.prom")
    env["STEELTHREAD_MONITOR_LABEL_DELAY"] = format_duration(LABEL_DELAY)  # the synthetic deployment's
    result = subprocess.run(
        [script, "run", "--window", "24h", NOW],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == ExitCode.NO_LABELS, result.stdout + result.stderr
    synthetic = plan()
    assert f"checked 2000 rows of model {synthetic.model_name} v3 ({synthetic.task.value})" in result.stdout
    assert "performance not evaluated: 0 labelled rows" in result.stderr
    assert "Traceback" not in result.stderr
    # Not a terminal: the stages are JSON log lines (the scheduler's progress), in order, then the outcome.
    logged = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert [line["stage"] for line in logged if line.get("event") == "stage"] == list(STAGES)
    assert [line["exit_code"] for line in logged if line.get("event") == "run_finished"] == [5]
    assert "\x1b[" not in result.stdout + result.stderr  # plain output: no ANSI codes
    latest = tmp_path / "monitoring" / "latest"
    assert json.loads((latest / "summary.json").read_text())["exit_code"] == 5
    assert (latest / "report.html").is_file()
    assert "steelthread_monitor_rows_checked" in (tmp_path / "textfile" / "monitor.prom").read_text()

    code, output = invoke(tmp_path, "--window=24h", NOW, "--labels-optional")
    assert code == 0, output
    runs = sorted(p for p in (tmp_path / "monitoring").iterdir() if p.name[0].isdigit())
    assert len(runs) == 2
    assert latest.resolve() == runs[-1].resolve(), "latest must point at the newest run"


@pytest.mark.parametrize("end", ["now", "2026-11-22T12:00:00", "2026-11-22T12:00:00Z"])
def test_the_script_reads_times_like_every_cli_and_fails_in_one_line(tmp_path: Path, end: str) -> None:
    """`--now` takes `now` and zone-less (UTC) times as the other CLIs do; a failure is the one `error:` line
    (after the JSON log lines) with its exit code, never a traceback or a Typer panel."""
    script = shutil.which("steelthread-monitor", path=str(Path(sys.executable).parent))
    assert script is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")}
    env |= {USECASE_ENV: active_name(), "STEELTHREAD_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [script, "run", "--now", end], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == ExitCode.MISSING_REFERENCE, result.stderr
    plain = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(plain) == 1, result.stderr
    assert plain[0].startswith("error: ")
    assert f"{tmp_path}/models/champion.json" in plain[0]
    assert "Traceback" not in result.stderr
    usage = subprocess.run(
        [script, "run", "--window", "7x"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert usage.returncode == ExitCode.USAGE
    assert usage.stderr.strip().splitlines() == [
        "error: Invalid value for --window: '7x': use a positive number with s, m, h, d or w, e.g. 24h"
    ]
