"""A training run's report for review before merge: files for the workflow, markdown for the pull request.

`steelthread-train run --report-dir DIR` writes `gate.json`, `metrics.json`, `model_card.md` and
`review.md`; the train workflow runs on pull requests that touch a use case, the features or training,
and posts `review.md` as a comment: the gate's verdict, the comparison with the champion on the same test
rows, and the model card, so the reviewer of a training change sees what it does to the model before it
merges (ML Test Score M1).

This module is the one owner of how a report renders: the workflow's job summary
(`.github/scripts/train_summary.py`) reads the folder back with `read_report` and renders it with
`render_summary`, so a value reads the same in the comment and on the run page (a missing one is
`MISSING` in both).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from steelthread_contracts.cells import MISSING, cell

MARKER = "<!-- steelthread-train-review -->"
"""First line of the comment, so a later run can find (and a reader can recognise) the bot's comment."""
REPORT_FILES = ("metrics.json", "gate.json")
"""What `read_report` needs of the folder `write_report` fills."""


class ReportError(ValueError):
    """The report folder does not hold a readable training report."""


def _rule(check: Mapping[str, Any]) -> str:
    """The check's rule (`>= 0.7`, `in [a, b]`); a check stored without its comparison shows its threshold."""
    op, threshold, upper = check.get("op"), check.get("threshold"), check.get("upper")
    if op == "in":
        return f"in [{cell(threshold)}, {cell(upper)}]"
    if op is None:
        return cell(threshold)
    return f"{op} {cell(threshold)}"


def _mark(check: Mapping[str, Any]) -> str:
    """A check passed only when it says so plainly (fail closed)."""
    return "✅" if check.get("passed") is True else "❌"


def gate_checks(gate: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Checks as mappings with a `name`, whether stored as a list or keyed by name."""
    raw = gate.get("checks", [])
    if isinstance(raw, Mapping):
        return [
            {"name": name, **(check if isinstance(check, Mapping) else {"value": check})}
            for name, check in raw.items()
        ]
    if isinstance(raw, list) and all(isinstance(c, Mapping) for c in raw):
        return list(raw)
    raise ReportError("gate.json 'checks' must be a list of objects or an object keyed by check name")


def gate_passed(gate: Mapping[str, Any]) -> bool:
    """The overall verdict; a verdict that does not say `passed` plainly counts as failed."""
    verdict = gate.get("passed", gate.get("verdict"))
    return verdict is True or verdict == "passed"


def metrics_table(metrics: Mapping[str, Any]) -> str:
    """One row per metric, one column per model; a flat mapping is one unnamed model."""
    if metrics and all(isinstance(v, Mapping) for v in metrics.values()):
        models: dict[str, Mapping[str, Any]] = {str(k): v for k, v in metrics.items()}
    else:
        models = {"model": metrics}
    names: list[str] = []
    for values in models.values():
        names.extend(n for n in values if n not in names and not isinstance(values[n], Mapping))
    lines = ["| metric | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for name in names:
        cells = [cell(values.get(name)) for values in models.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def champion_section(gate: Mapping[str, Any], metrics: Mapping[str, Any]) -> str:
    """The candidate against the current champion on the same test rows (or why there is none)."""
    champion = gate.get("champion") or {}
    metric = str(champion.get("metric", "roc_auc"))
    ours = (metrics.get("lightgbm") or {}).get(metric)
    theirs = champion.get("value")
    check: Mapping[str, Any] = next(
        (c for c in gate_checks(gate) if str(c.get("name", "")).startswith("champion.")), {}
    )
    if champion.get("version") is None or theirs is None:
        return f"**Champion**: {champion.get('note') or 'none yet'}. This model's {metric}: {cell(ours)}."
    delta = ours - theirs if isinstance(ours, int | float) and isinstance(theirs, int | float) else None
    rule = _rule(check) if check else MISSING
    return "\n".join(
        [
            f"**Champion**: version {champion['version']}, scored on this run's test rows.",
            "",
            f"| {metric} | this model | champion v{champion['version']} | difference | rule | ok |",
            "|---|---|---|---|---|---|",
            f"| test | {cell(ours)} | {cell(theirs)} | {cell(delta)} | {rule} | {_mark(check)} |",
        ]
    )


def gate_section(gate: Mapping[str, Any], *, fold_passing_slices: bool = True) -> str:
    """The checks, the failures first; passing slice checks are counted instead of listed unless
    `fold_passing_slices` is off (the job summary lists every check)."""
    checks = gate_checks(gate)
    slices = [c for c in checks if fold_passing_slices and str(c.get("name", "")).startswith("slice.")]
    shown = [c for c in checks if c not in slices or c.get("passed") is not True]
    shown.sort(key=lambda c: c.get("passed") is True)
    lines = ["| check | value | rule | ok |", "|---|---|---|---|"]
    for c in shown:
        lines.append(f"| {c.get('name', '?')} | {cell(c.get('value'))} | {_rule(c)} | {_mark(c)} |")
    passing_slices = sum(1 for c in slices if c.get("passed") is True)
    if slices:
        lines += ["", f"{passing_slices} of {len(slices)} gated slices pass their floor."]
    return "\n".join(lines)


def render_review(
    *,
    gate: Mapping[str, Any],
    metrics: Mapping[str, Any],
    card: str,
    model_name: str,
    version: str | None = None,
    run_id: str | None = None,
) -> str:
    """The pull-request comment: verdict, champion comparison, gate checks, then the model card folded."""
    verdict = "✅ gate passed" if gate_passed(gate) else "❌ gate refused"
    title = f"{model_name} v{version}" if version else model_name
    where = f" (MLflow run `{run_id}`)" if run_id else ""
    failed = [str(c.get("name")) for c in gate_checks(gate) if c.get("passed") is not True]
    why = f"Refused by: {', '.join(failed)}." if failed else "Every check passed."
    parts = [
        MARKER,
        f"## Training review: {title}: {verdict}",
        f"Trained on this pull request's code and configuration{where}. {why}",
        champion_section(gate, metrics),
        "### Gate checks",
        gate_section(gate),
        "<details><summary>Model card</summary>\n\n" + card.strip() + "\n\n</details>",
    ]
    return "\n\n".join(parts) + "\n"


def render_summary(gate: Mapping[str, Any], metrics: Mapping[str, Any]) -> str:
    """The workflow run's job summary: the metrics table, the verdict and every gate check."""
    verdict = (
        "✅ **passed**: registered as `challenger`"
        if gate_passed(gate)
        else "❌ **failed**: not registered as `challenger`"
    )
    parts = [
        "## Training run",
        "### Metrics",
        metrics_table(metrics),
        "### Gate",
        f"Gate verdict: {verdict}\n\n" + gate_section(gate, fold_passing_slices=False),
    ]
    return "\n\n".join(parts) + "\n"


def read_report(report_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The gate verdict and the metrics `write_report` stored in `report_dir`, or a `ReportError` saying
    which file is missing or unreadable."""
    loaded: dict[str, dict[str, Any]] = {}
    for name in REPORT_FILES:
        path = report_dir / name
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ReportError(f"{path} is missing (did training stop before the gate?)") from None
        except json.JSONDecodeError as exc:
            raise ReportError(f"{path} is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise ReportError(f"{path} must hold a JSON object")
        loaded[name] = value
    return loaded["gate.json"], loaded["metrics.json"]


def write_report(
    report_dir: Path,
    *,
    gate: Mapping[str, Any],
    metrics: Mapping[str, Any],
    card: str,
    model_name: str,
    version: str | None,
    run_id: str | None,
) -> Path:
    """gate.json, metrics.json, model_card.md and review.md in `report_dir`; returns review.md's path."""
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "gate.json").write_text(json.dumps(gate, indent=2) + "\n", encoding="utf-8")
    finite = {
        model: {k: v if not isinstance(v, float) or math.isfinite(v) else None for k, v in values.items()}
        for model, values in metrics.items()
    }
    (report_dir / "metrics.json").write_text(json.dumps(finite, indent=2) + "\n", encoding="utf-8")
    (report_dir / "model_card.md").write_text(card, encoding="utf-8")
    review = report_dir / "review.md"
    review.write_text(
        render_review(
            gate=gate, metrics=metrics, card=card, model_name=model_name, version=version, run_id=run_id
        ),
        encoding="utf-8",
    )
    return review
