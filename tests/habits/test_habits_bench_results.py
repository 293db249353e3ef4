"""The bench results file and the comparison CI's bench job runs (`bench/results.py compare`).

The comparison runs as the workflow runs it, as a process on real files: a ratio more than 20 % below the
committed one fails (exit 1) and names the ratio; within the tolerance passes; a ratio the fresh run did
not measure fails; an unreadable file is one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "results.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("steelthread_bench_results", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _file(path: Path, ratios: dict[str, float], size: str = "small", bench: str = "serving") -> Path:
    run = {
        "date": "2026-12-06T20:00:00+00:00",
        "machine": {
            "cores": 2,
            "memory_gib": 8.0,
            "cpu_model": "cpu",
            "load_average": [0.1, 0.1, 0.1],
            "python": "3.11.7",
        },
        "params": {"duration_s": 2},
        "ratios": ratios,
        "figures": {"bare c1 rps": 5000.0},
    }
    path.write_text(json.dumps({"runs": {size: {bench: run}}}))
    return path


def _compare(committed: Path, fresh: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "compare",
            "--committed",
            str(committed),
            "--fresh",
            str(fresh),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_a_ratio_more_than_20_percent_below_the_committed_one_fails(tmp_path: Path) -> None:
    committed = _file(tmp_path / "committed.json", {"skeleton / bare, c1": 1.0, "live / bare, c1": 0.5})
    fresh = _file(tmp_path / "fresh.json", {"skeleton / bare, c1": 0.79, "live / bare, c1": 0.5})
    result = _compare(committed, fresh)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL small/serving: skeleton / bare, c1: 0.790 against 1.000" in result.stdout
    assert "ok   small/serving: live / bare, c1" in result.stdout
    assert "1 ratio(s) regressed more than 20%" in result.stderr


def test_ratios_within_the_tolerance_or_better_pass(tmp_path: Path) -> None:
    committed = _file(tmp_path / "committed.json", {"skeleton / bare, c1": 1.0, "live / bare, c1": 0.5})
    fresh = _file(tmp_path / "fresh.json", {"skeleton / bare, c1": 0.81, "live / bare, c1": 0.9})
    result = _compare(committed, fresh)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ok  ") == 2


def test_the_tolerance_is_an_option(tmp_path: Path) -> None:
    committed = _file(tmp_path / "committed.json", {"r": 1.0})
    fresh = _file(tmp_path / "fresh.json", {"r": 0.85})
    assert _compare(committed, fresh, "--tolerance", "0.1").returncode == 1
    assert _compare(committed, fresh, "--tolerance", "0.2").returncode == 0


def test_a_committed_ratio_the_fresh_run_did_not_measure_fails(tmp_path: Path) -> None:
    committed = _file(tmp_path / "committed.json", {"r": 1.0, "gone": 1.0})
    fresh = _file(tmp_path / "fresh.json", {"r": 1.0})
    result = _compare(committed, fresh)
    assert result.returncode == 1
    assert "FAIL small/serving: gone: not measured in the fresh run" in result.stdout


def test_only_the_sizes_the_fresh_run_measured_are_compared(tmp_path: Path) -> None:
    """CI runs the small size; the committed full-size figures are not its business."""
    committed = tmp_path / "committed.json"
    data: dict[str, Any] = json.loads(_file(committed, {"r": 1.0}, size="full").read_text())
    data["runs"]["small"] = json.loads(_file(tmp_path / "s.json", {"r": 1.0}).read_text())["runs"]["small"]
    committed.write_text(json.dumps(data))
    fresh = _file(tmp_path / "fresh.json", {"r": 0.95})
    result = _compare(committed, fresh)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "full/" not in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such results file"),
        ("{not json", "not a readable results file"),
        ("[]", "no 'runs' object"),
        ('{"runs": {}}', "records no run"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, content: str | None, message: str) -> None:
    committed = _file(tmp_path / "committed.json", {"r": 1.0})
    fresh = tmp_path / "fresh.json"
    if content is not None:
        fresh.write_text(content)
    result = _compare(committed, fresh)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_record_keeps_other_benches_and_stores_the_machine_and_date(tmp_path: Path) -> None:
    results = _module()
    path = _file(tmp_path / "results.json", {"r": 1.0}, bench="batch")
    args = argparse.Namespace(results=path, size="small")
    results.record(args, "serving", params={"n": 1}, ratios={"a / b": 1.23456}, figures={"a s": 2.0})
    data = json.loads(path.read_text())
    assert set(data["runs"]["small"]) == {"batch", "serving"}
    run = data["runs"]["small"]["serving"]
    assert run["ratios"] == {"a / b": 1.2346}
    assert {"cores", "memory_gib", "cpu_model", "load_average"} <= set(run["machine"])
    assert run["date"].endswith("+00:00")
    markdown = results.render(data)
    assert "## serving (small)" in markdown
    assert "| a / b | 1.235 |" in markdown


def test_small_size_applies_only_to_options_left_at_their_default(monkeypatch: pytest.MonkeyPatch) -> None:
    results = _module()

    def parse(argv: list[str]) -> argparse.Namespace:
        parser = argparse.ArgumentParser()
        parser.add_argument("--rows", type=int, default=1_000_000)
        parser.add_argument("--iterations", type=int, default=500)
        monkeypatch.setattr(sys, "argv", ["bench", *argv])
        return results.parse(parser, small={"rows": 1000, "iterations": 50})

    assert (parse([]).rows, parse([]).iterations) == (1_000_000, 500)
    small = parse(["--size", "small", "--iterations", "7"])
    assert (small.rows, small.iterations) == (1000, 7)


def test_the_committed_results_file_is_rendered_and_has_small_runs_for_ci() -> None:
    """CI compares against the committed small-size ratios, so they must exist and be rendered."""
    results = _module()
    data = results.load(results.DEFAULT_RESULTS)
    assert data["runs"].get("small"), "bench/results.json has no small-size run: run `make bench-small`"
    for run in data["runs"]["small"].values():
        assert run["ratios"], run
    assert results.DEFAULT_MARKDOWN.read_text() == results.render(data)
