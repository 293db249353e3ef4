"""The pull-request review of a training run (review.py): the verdict, the champion comparison on the same
test rows, the failing checks first, and the model card, rendered from a run's real gate verdict and card.
The workflow's job summary is rendered by the same module, so a value reads the same in both.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from steelthread_contracts.cells import MISSING
from steelthread_training.review import (
    MARKER,
    read_report,
    render_review,
    render_summary,
    write_report,
)

CARD = "# Model card: credit-risk\n\nIntended use: tests.\n"


def _gate(
    passed: bool, champion: dict[str, object] | None = None, *extra: dict[str, object]
) -> dict[str, object]:
    checks = [
        {"name": "roc_auc", "value": 0.81, "op": ">=", "threshold": 0.7, "passed": True},
        {
            "name": "gain_over_baseline.roc_auc",
            "value": 0.04 if passed else 0.01,
            "op": ">",
            "threshold": 0.02,
            "passed": passed,
        },
        {"name": "slice.purpose=car.roc_auc", "value": 0.8, "op": ">=", "threshold": 0.6, "passed": True},
        {"name": "slice.purpose=other.roc_auc", "value": 0.9, "op": ">=", "threshold": 0.6, "passed": True},
        {"name": "champion.roc_auc_delta", "value": 0.003, "op": ">=", "threshold": -0.005, "passed": True},
        *extra,
    ]
    return {
        "passed": passed,
        "checks": checks,
        "champion": champion
        or {"version": None, "value": None, "note": "no champion yet", "metric": "roc_auc"},
        "notes": [],
    }


METRICS = {"lightgbm": {"roc_auc": 0.812}, "baseline": {"roc_auc": 0.772}}


def test_a_refused_run_names_its_failing_check_first_and_folds_the_card() -> None:
    text = render_review(gate=_gate(False), metrics=METRICS, card=CARD, model_name="credit-risk", version="4")
    assert text.startswith(MARKER)
    assert "credit-risk v4: ❌ gate refused" in text
    assert "Refused by: gain_over_baseline.roc_auc." in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "check" not in line]
    assert rows[0].startswith("| gain_over_baseline.roc_auc | 0.01 | > 0.02 | ❌ |")
    assert "slice.purpose=car" not in text, "passing slices are counted, not listed"
    assert "2 of 2 gated slices pass their floor." in text
    assert "<details><summary>Model card</summary>" in text
    assert "Intended use: tests." in text
    assert "no champion yet" in text


def test_the_champion_comparison_is_on_the_same_test_rows() -> None:
    champion = {"version": "3", "value": 0.809, "note": "champion v3", "metric": "roc_auc"}
    text = render_review(
        gate=_gate(True, champion), metrics=METRICS, card=CARD, model_name="credit-risk", run_id="abc"
    )
    assert "✅ gate passed" in text
    assert "MLflow run `abc`" in text
    assert "| roc_auc | this model | champion v3 | difference | rule | ok |" in text
    assert "| test | 0.812 | 0.809 | 0.003 | >= -0.005 | ✅ |" in text


def test_the_report_folder_is_what_the_workflow_reads(tmp_path: Path) -> None:
    gate = _gate(True)
    metrics = {"lightgbm": {"roc_auc": 0.81, "log_loss": float("nan")}, "baseline": {"roc_auc": 0.77}}
    review = write_report(
        tmp_path / "last-run", gate=gate, metrics=metrics, card=CARD, model_name="m", version="1", run_id="r"
    )
    assert review.read_text(encoding="utf-8").startswith(MARKER)
    assert json.loads((tmp_path / "last-run" / "gate.json").read_text()) == gate
    stored = json.loads((tmp_path / "last-run" / "metrics.json").read_text())
    assert stored["lightgbm"]["log_loss"] is None, "NaN is stored as null (strict JSON)"
    assert (tmp_path / "last-run" / "model_card.md").read_text() == CARD


@pytest.mark.parametrize("passed", [True, False])
def test_the_workflow_summary_script_reads_the_same_folder(tmp_path: Path, passed: bool) -> None:
    import importlib.util

    script = Path(__file__).resolve().parents[2] / ".github" / "scripts" / "train_summary.py"
    spec = importlib.util.spec_from_file_location("train_summary_for_review", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    write_report(
        tmp_path, gate=_gate(passed), metrics=METRICS, card=CARD, model_name="m", version=None, run_id=None
    )
    text, verdict = module.render(tmp_path)
    assert verdict is passed
    assert "| roc_auc | 0.812 | 0.772 |" in text


def test_a_missing_value_reads_the_same_in_the_comment_and_the_job_summary(tmp_path: Path) -> None:
    metrics = {
        "lightgbm": {"roc_auc": 0.81, "log_loss": float("nan"), "brier": 0.2},
        "baseline": {"roc_auc": 0.77, "log_loss": 0.5},
    }
    unmeasured = {
        "name": "parity.p9999_abs_diff",
        "value": None,
        "op": "<=",
        "threshold": 1e-5,
        "passed": False,
    }
    gate = _gate(False, None, unmeasured)
    write_report(tmp_path, gate=gate, metrics=metrics, card=CARD, model_name="m", version="1", run_id=None)
    review = (tmp_path / "review.md").read_text(encoding="utf-8")
    summary = render_summary(*read_report(tmp_path))
    assert MISSING == "n/a"
    assert "| log_loss | n/a | 0.5 |" in summary, "NaN is stored as null and reads as missing"
    assert "| brier | 0.2 | n/a |" in summary, "a metric one model lacks reads as missing"
    row = "| parity.p9999_abs_diff | n/a | <= 1e-05 | ❌ |"
    assert row in summary
    assert row in review
    assert not re.search(r"\|\s*[-–]\s*\|", summary + review), "no other spelling of a missing value"


def test_the_job_summary_lists_every_check_and_fails_closed_on_an_unclear_one() -> None:
    checks = [
        {"name": "slice.purpose=car.roc_auc", "value": 0.8, "passed": True},
        {"name": "unsure", "value": 1.0, "op": ">=", "threshold": 0.5},
    ]
    gate = {"passed": True, "checks": checks}
    summary = render_summary(gate, {"roc_auc": 0.8})
    assert "| slice.purpose=car.roc_auc | 0.8 | n/a | ✅ |" in summary, "the summary does not fold slices"
    assert "| unsure | 1 | >= 0.5 | ❌ |" in summary, "a check that does not say it passed did not"
    assert "Gate verdict: ✅ **passed**" in summary
