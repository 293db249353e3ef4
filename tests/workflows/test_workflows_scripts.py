"""The helper scripts the workflows run: flag files, training summary, smoke test and SLO check (the
monitoring alert decision has its own file, test_workflows_monitor_alerts.py). Pure parts are checked on
realistic inputs; the command lines are run as the workflows run them, including their one-line errors."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from helpers.usecase import SCORE_FIELD, USE_CASE
from steelthread_contracts import ModelInfo, PredictionResponse

SCRIPTS = Path(__file__).resolve().parents[2] / ".github" / "scripts"
MODEL_NAME = f"{USE_CASE.name}-model"
"""The model name the serving app's answers carry in these tests (any name: the scripts only echo it)."""


def _load(name: str) -> ModuleType:
    module_name = f"steelthread_workflow_script_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, SCRIPTS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def _run(name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )


# --- serving_flags -------------------------------------------------------------------------------------


def _flagd() -> dict[str, Any]:
    return {
        "$schema": "https://flagd.dev/schema/v0/flags.json",
        "flags": {
            "serving-mode": {
                "state": "ENABLED",
                "variants": {"skeleton": "skeleton", "shadow": "shadow", "canary": "canary", "live": "live"},
                "defaultVariant": "skeleton",
            },
            "canary-fraction": {
                "state": "ENABLED",
                "variants": {"off": 0.0, "ten-percent": 0.1},
                "defaultVariant": "off",
            },
            "other": {"state": "ENABLED", "variants": {"on": True}, "defaultVariant": "on"},
        },
    }


def test_flags_select_mode_and_named_fraction_and_leave_the_rest() -> None:
    flags = _load("serving_flags")
    before = _flagd()
    after = flags.set_mode(before, "canary", 0.1)
    assert after["flags"]["serving-mode"]["defaultVariant"] == "canary"
    assert after["flags"]["canary-fraction"]["defaultVariant"] == "ten-percent"
    assert after["flags"]["other"] == before["flags"]["other"]
    assert before["flags"]["serving-mode"]["defaultVariant"] == "skeleton", "input must not be mutated"


def test_flags_add_a_variant_for_a_fraction_the_file_does_not_name() -> None:
    after = _load("serving_flags").set_mode(_flagd(), "canary", 0.2)
    fraction = after["flags"]["canary-fraction"]
    assert fraction["variants"][fraction["defaultVariant"]] == 0.2
    assert fraction["variants"]["off"] == 0.0


@pytest.mark.parametrize(
    ("mode", "fraction", "message"),
    [
        ("turbo", 0.0, "mode must be one of"),
        ("canary", 1.5, "between 0 and 1"),
        ("live", float("nan"), "between"),
    ],
)
def test_flags_reject_bad_values(mode: str, fraction: float, message: str) -> None:
    flags = _load("serving_flags")
    with pytest.raises(flags.FlagFileError, match=message):
        flags.set_mode(_flagd(), mode, fraction)


def test_flags_reject_a_file_that_is_not_flagd() -> None:
    flags = _load("serving_flags")
    with pytest.raises(flags.FlagFileError, match="no flag 'canary-fraction'"):
        flags.set_mode({"flags": {"serving-mode": _flagd()["flags"]["serving-mode"]}}, "live", 0.0)


@pytest.mark.parametrize("mode", ["skeleton", "shadow", "canary", "live"])
def test_flags_cli_works_on_the_serving_apps_own_flag_file(
    mode: str, tmp_path: Path, repo_root: Path
) -> None:
    base = repo_root / "apps" / "serving" / "flags.json"
    out = tmp_path / "flags.json"
    result = _run(
        "serving_flags", "--base", str(base), "--mode", mode, "--canary-fraction", "0.25", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    written = json.loads(out.read_text(encoding="utf-8"))
    mode_flag = written["flags"]["serving-mode"]
    assert mode_flag["variants"][mode_flag["defaultVariant"]] == mode
    fraction = written["flags"]["canary-fraction"]
    assert fraction["variants"][fraction["defaultVariant"]] == 0.25


def test_flags_cli_gives_one_line_for_a_missing_file(tmp_path: Path) -> None:
    result = _run(
        "serving_flags",
        "--base",
        str(tmp_path / "nope.json"),
        "--mode",
        "live",
        "--out",
        str(tmp_path / "o.json"),
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "nope.json" in result.stderr
    assert "Traceback" not in result.stderr


# --- train_summary -------------------------------------------------------------------------------------


def _report(tmp_path: Path, gate: dict[str, Any], metrics: dict[str, Any] | None = None) -> Path:
    (tmp_path / "metrics.json").write_text(
        json.dumps(
            metrics
            or {
                "lightgbm": {"roc_auc": 0.8123, "pr_auc": 0.41, "log_loss": 0.33},
                "baseline": {"roc_auc": 0.74, "pr_auc": 0.3, "log_loss": 0.36},
            }
        ),
        encoding="utf-8",
    )
    (tmp_path / "gate.json").write_text(json.dumps(gate), encoding="utf-8")
    return tmp_path


def test_summary_renders_metrics_per_model_and_every_gate_check(tmp_path: Path) -> None:
    gate = {
        "passed": False,
        "checks": [
            {"name": "roc_auc_floor", "value": 0.81, "threshold": 0.7, "passed": True},
            {"name": "fairness_ratio", "value": 0.72, "threshold": 0.8, "passed": False},
        ],
    }
    text, passed = _load("train_summary").render(_report(tmp_path, gate))
    assert passed is False
    assert "| metric | lightgbm | baseline |" in text
    assert "| roc_auc | 0.8123 | 0.74 |" in text
    assert "| fairness_ratio | 0.72 | 0.8 | ❌ |" in text
    assert "failed" in text


def test_summary_accepts_checks_keyed_by_name_and_a_flat_metrics_mapping(tmp_path: Path) -> None:
    gate = {
        "verdict": "passed",
        "checks": {"beats_baseline": {"value": 0.07, "threshold": 0, "passed": True}},
    }
    text, passed = _load("train_summary").render(_report(tmp_path, gate, {"roc_auc": 0.8}))
    assert passed is True
    assert "| beats_baseline | 0.07 | 0 | ✅ |" in text
    assert "| metric | model |" in text


def test_summary_treats_an_unclear_verdict_as_failed(tmp_path: Path) -> None:
    _, passed = _load("train_summary").render(_report(tmp_path, {"passed": "yes", "checks": []}))
    assert passed is False


def test_summary_is_the_training_packages_rendering_with_its_missing_value(tmp_path: Path) -> None:
    """One owner of the report's tables (steelthread_training.review): the script renders nothing itself,
    and a value that is not there reads as the pull-request comment spells it."""
    from steelthread_contracts.cells import MISSING
    from steelthread_training.review import read_report, render_summary

    gate = {
        "passed": False,
        "checks": [{"name": "parity", "value": None, "threshold": 1e-5, "passed": False}],
    }
    report = _report(
        tmp_path, gate, {"lightgbm": {"roc_auc": 0.8, "log_loss": None}, "baseline": {"roc_auc": 0.7}}
    )
    text, passed = _load("train_summary").render(report)
    assert passed is False
    assert text == render_summary(*read_report(report))
    assert f"| log_loss | {MISSING} | {MISSING} |" in text
    assert f"| parity | {MISSING} | 1e-05 | ❌ |" in text
    assert "–" not in text


def test_summary_cli_appends_and_fails_clearly_without_a_report(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    result = _run("train_summary", "--report-dir", str(tmp_path / "missing"), "--summary", str(summary))
    assert result.returncode == 1
    assert "metrics.json is missing" in result.stderr
    assert summary.read_text(encoding="utf-8").startswith("earlier step\n## Training run")


def test_summary_cli_writes_the_tables(tmp_path: Path) -> None:
    report = _report(tmp_path, {"passed": True, "checks": []})
    summary = tmp_path / "summary.md"
    result = _run("train_summary", "--report-dir", str(report), "--summary", str(summary))
    assert result.returncode == 0, result.stderr
    assert "Gate verdict: ✅ **passed**" in summary.read_text(encoding="utf-8")


# --- smoke_check ---------------------------------------------------------------------------------------


def _info(version: str, mode: str, flags_problem: str | None = None) -> ModelInfo:
    now = datetime.now(UTC).isoformat()
    return ModelInfo.model_validate(
        {
            "mode": mode,
            "canary_fraction": 0.1,
            "reason": "test",
            "champion": {"name": MODEL_NAME, "version": version, "loaded_at": now},
            "fallback": {"name": "skeleton", "version": "0", "loaded_at": now},
            "flags_problem": flags_problem,
        }
    )


def _answer(mode: str, degraded: bool) -> PredictionResponse:
    return PredictionResponse.model_validate(
        {
            "request_id": "smoke-0",
            SCORE_FIELD: USE_CASE.score_range[0],
            "decision": "approve",
            "decided_by": "fallback" if degraded else "package",
            "model_name": MODEL_NAME,
            "model_version": "7",
            "mode": mode,
            "degraded": degraded,
            "degraded_reason": "unknown_customer" if degraded else None,
        }
    )


def test_smoke_requests_are_valid_contract_requests() -> None:
    requests = _load("smoke_check").SMOKE_REQUESTS
    assert len(requests) == 3
    assert len({r.request_id for r in requests}) == 3


def test_smoke_compares_model_info_with_the_step() -> None:
    smoke = _load("smoke_check")
    assert smoke.model_problems(_info("7", "canary"), "7", "canary") == []
    assert smoke.model_problems(_info("7", "canary"), "", "") == []
    problems = smoke.model_problems(_info("6", "shadow"), "7", "canary")
    assert problems == ["mode is 'shadow', expected 'canary'", "champion version is '6', expected '7'"]
    # The mode can match by chance while the file the step wrote is broken and the last good flags serve.
    broken = smoke.model_problems(_info("7", "canary", "serving-mode is DISABLED"), "7", "canary")
    assert broken == ["flag file not in effect: serving-mode is DISABLED"]


def test_smoke_fails_when_live_answers_are_all_degraded_or_in_the_wrong_mode() -> None:
    smoke = _load("smoke_check")
    assert smoke.answer_problems([_answer("live", False), _answer("live", True)], "live") == []
    assert "every smoke answer was degraded" in smoke.answer_problems([_answer("live", True)], "live")[0]
    assert smoke.answer_problems([_answer("skeleton", False)], "shadow") == [
        "smoke-0: answered in mode 'skeleton', expected 'shadow'"
    ]


def test_smoke_cli_refuses_to_run_without_a_key_or_with_a_bad_url() -> None:
    no_key = _run("smoke_check", "--base-url", "http://127.0.0.1:9", env={"PATH": ""})
    assert no_key.returncode == 2
    assert "STEELTHREAD_SMOKE_API_KEY is not set" in no_key.stderr
    bad_url = _run("smoke_check", "--base-url", "ftp://x", env={"STEELTHREAD_SMOKE_API_KEY": "k"})
    assert bad_url.returncode == 2
    assert "http(s) URL" in bad_url.stderr


def test_smoke_cli_fails_in_one_line_when_nothing_answers() -> None:
    result = _run(
        "smoke_check",
        "--base-url",
        "http://127.0.0.1:9",
        "--wait-seconds",
        "0",
        env={"STEELTHREAD_SMOKE_API_KEY": "k"},
    )
    assert result.returncode == 1
    assert result.stderr.startswith("smoke_check: FAILED: ConnectError")
    assert "Traceback" not in result.stderr


# --- slo_check -----------------------------------------------------------------------------------------


def test_slo_reads_prometheus_vectors_and_treats_no_series_as_no_data() -> None:
    slo = _load("slo_check")
    ok = {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "0.02"]}]},
    }
    assert slo.scalar_from_response(ok) == pytest.approx(0.02)
    assert (
        slo.scalar_from_response({"status": "success", "data": {"resultType": "vector", "result": []}})
        is None
    )
    with pytest.raises(ValueError, match="Prometheus error: bad_data"):
        slo.scalar_from_response({"status": "error", "error": "bad_data"})


def test_slo_breaches_name_each_failed_objective_and_missing_data() -> None:
    slo = _load("slo_check")
    checks = slo.slos("30m", 0.01, 0.25, 0.05)
    values = {
        "5xx ratio": 0.0,
        "p99 prediction latency": 0.4,
        "degraded-answer ratio": float("nan"),
        "invalid scores": 0.0,
    }
    assert slo.breaches(values, checks) == [
        "p99 prediction latency: 0.4s > 0.25s",
        "degraded-answer ratio: no data",
        "refused model packages: no data",
    ]


def test_slo_queries_use_the_serving_metric_names_and_the_window() -> None:
    slo = _load("slo_check")
    text = " ".join(s.query for s in slo.slos("45m", 0.01, 0.25, 0.05))
    for metric in (
        "steelthread_http_requests_total",
        "steelthread_prediction_latency_seconds_bucket",
        "steelthread_degraded_predictions_total",
        "steelthread_predictions_total",
        "steelthread_invalid_scores_total",
        "steelthread_model_refusals_total",
    ):
        assert metric in text
    assert text.count("[45m]") == 7


def test_slo_cli_rejects_a_window_prometheus_would_not_take() -> None:
    result = _run("slo_check", "--prometheus-url", "http://127.0.0.1:9", "--window", "0m")
    assert result.returncode == 2
    assert "window must look like" in result.stderr


# --- canary_check --------------------------------------------------------------------------------------


def _canary_check(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(SCRIPTS))  # it reuses slo_check's reader, as it does when run
    return _load("canary_check")


def _numbers(check: ModuleType, n: float, errors: float = 0, degraded: float = 0, p95: float | None = 0.002,
             bins: list[float] | None = None) -> Any:  # fmt: skip
    return check.Numbers(n, errors, degraded, p95, bins if bins is not None else [n * 0.5, n * 0.3, n * 0.2])


def test_canary_psi_is_zero_for_the_same_shares_and_large_for_a_moved_distribution(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    check = _canary_check(monkeypatch)
    assert check.psi([50, 30, 20], [500, 300, 200]) == pytest.approx(0.0)
    assert check.psi([50, 30, 20], [0, 0, 100]) > 5
    assert check.chance_psi([50, 30, 0], [10, 10, 0]) == pytest.approx(1 * (1 / 80 + 1 / 20))
    assert check.bins_from_buckets({0.5: 3, 1.0: 10, float("inf"): 10}) == [3, 7, 0]
    assert check.bins_from_buckets({}) == []


def test_canary_decision_compares_with_stable_and_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    check = _canary_check(monkeypatch)
    limits = check.Limits(min_predictions=100)
    stable = _numbers(check, 2000, errors=2, degraded=20)
    assert all(c.passed for c in check.decide(_numbers(check, 500, errors=0, degraded=5), stable, limits))

    def failed(canary: Any, against: Any = stable) -> list[str]:
        return [c.name for c in check.decide(canary, against, limits) if not c.passed]

    assert failed(_numbers(check, 500, errors=4)) == ["model-error share vs stable"]  # 0.8 % vs 0.1 %
    assert failed(_numbers(check, 500, degraded=20)) == ["degraded share vs stable"]  # 4 % vs 1 %
    assert failed(_numbers(check, 500, p95=0.02)) == ["p95 latency vs stable (s)"]  # over 1.5 x + 5 ms
    assert failed(_numbers(check, 500, bins=[0, 0, 500]))[0].startswith("score shift")
    assert failed(_numbers(check, 50)) == ["canary predictions (fewest)"]
    assert failed(_numbers(check, 500, p95=None)) == ["canary p95 latency (s)", "p95 latency vs stable (s)"]
    assert failed(_numbers(check, 500, bins=[])) == ["score shift (PSI)"]  # no scores to compare: abort
    # Without a stable (a first champion) only the canary's own ceilings apply.
    alone = check.decide(_numbers(check, 500, errors=4), None, limits)
    assert [c.name for c in alone if not c.passed] == []
    assert all(c.stable is None for c in alone)
    assert [c.name for c in check.decide(_numbers(check, 500, errors=10), None, limits) if not c.passed] == [
        "canary model-error share"
    ]


def test_canary_cli_fails_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    bad_window = _run(
        "canary_check", "--prometheus-url", "http://127.0.0.1:9", "--window", "0m", "--canary-version", "2"
    )
    assert bad_window.returncode == 2
    assert "window must look like" in bad_window.stderr
    bad_version = _run(
        "canary_check", "--prometheus-url", "http://127.0.0.1:9", "--window", "5m", "--canary-version", "../x"
    )
    assert bad_version.returncode == 2
    assert "canary-version must be a model version" in bad_version.stderr
    unreachable = _run(
        "canary_check", "--prometheus-url", "http://127.0.0.1:9", "--window", "5m", "--canary-version", "2"
    )
    assert unreachable.returncode == 1  # no evidence is an abort, never a pass
    assert unreachable.stderr.startswith("canary_check: ABORT: cannot read Prometheus")
    assert len(unreachable.stderr.strip().splitlines()) == 1
