"""A training run's report for review before merge: files for the workflow, markdown for the pull request.

`steelthread-train run --report-dir DIR` writes `gate.json`, `metrics.json`, `model_card.md` and
`review.md`; the train workflow runs on pull requests that touch a use case, the features or training,
and posts `review.md` as a comment: the gate's verdict, the comparison with the champion on the same test
rows, and the model card, so the reviewer of a training change sees what it does to the model before it
merges (ML Test Score M1).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MARKER = "<!-- steelthread-train-review -->"
"""First line of the comment, so a later run can find (and a reader can recognise) the bot's comment."""


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.4g}"
    if value is None:
        return "n/a"
    return str(value)


def _rule(check: Mapping[str, Any]) -> str:
    op, threshold, upper = check.get("op"), check.get("threshold"), check.get("upper")
    if op == "in":
        return f"in [{_fmt(threshold)}, {_fmt(upper)}]"
    return f"{op} {_fmt(threshold)}"


def champion_section(gate: Mapping[str, Any], metrics: Mapping[str, Any]) -> str:
    """The candidate against the current champion on the same test rows (or why there is none)."""
    champion = gate.get("champion") or {}
    metric = str(champion.get("metric", "roc_auc"))
    ours = (metrics.get("lightgbm") or {}).get(metric)
    theirs = champion.get("value")
    check: Mapping[str, Any] = next(
        (c for c in gate.get("checks", []) if str(c.get("name", "")).startswith("champion.")), {}
    )
    if champion.get("version") is None or theirs is None:
        return f"**Champion**: {champion.get('note') or 'none yet'}. This model's {metric}: {_fmt(ours)}."
    delta = ours - theirs if isinstance(ours, int | float) and isinstance(theirs, int | float) else None
    mark = "✅" if check.get("passed") else "❌"
    return "\n".join(
        [
            f"**Champion**: version {champion['version']}, scored on this run's test rows.",
            "",
            f"| {metric} | this model | champion v{champion['version']} | difference | rule | ok |",
            "|---|---|---|---|---|---|",
            f"| test | {_fmt(ours)} | {_fmt(theirs)} | {_fmt(delta)} | {_rule(check) if check else 'n/a'} "
            f"| {mark} |",
        ]
    )


def gate_section(gate: Mapping[str, Any]) -> str:
    """Every check but the passing slice checks (counted instead): the failures first."""
    checks = [c for c in gate.get("checks", []) if isinstance(c, Mapping)]
    slices = [c for c in checks if str(c.get("name", "")).startswith("slice.")]
    shown = [c for c in checks if c not in slices or not c.get("passed")]
    shown.sort(key=lambda c: bool(c.get("passed")))
    lines = ["| check | value | rule | ok |", "|---|---|---|---|"]
    for c in shown:
        mark = "✅" if c.get("passed") else "❌"
        lines.append(f"| {c.get('name', '?')} | {_fmt(c.get('value'))} | {_rule(c)} | {mark} |")
    passing_slices = sum(1 for c in slices if c.get("passed"))
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
    passed = gate.get("passed") is True
    verdict = "✅ gate passed" if passed else "❌ gate refused"
    title = f"{model_name} v{version}" if version else model_name
    where = f" (MLflow run `{run_id}`)" if run_id else ""
    failed = [str(c.get("name")) for c in gate.get("checks", []) if not c.get("passed")]
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
