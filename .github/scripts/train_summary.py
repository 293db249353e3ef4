"""Render a training run's metrics table and gate verdict as markdown for the job summary.

The person who triggered a retrain should see, on the run page, what the model scored and which gate
check decided its fate, without opening MLflow. The training CLI writes `metrics.json` and `gate.json`
into the run's report folder; this turns them into tables.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer


class ReportError(ValueError):
    """The report folder does not hold a readable training report."""


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.4g}"
    if value is None:
        return "–"
    return str(value)


def metrics_table(metrics: dict[str, Any]) -> str:
    """One row per metric, one column per model; a flat mapping is one unnamed model."""
    if metrics and all(isinstance(v, dict) for v in metrics.values()):
        models = {str(k): v for k, v in metrics.items()}
    else:
        models = {"model": metrics}
    names: list[str] = []
    for values in models.values():
        names.extend(n for n in values if n not in names and not isinstance(values[n], dict))
    lines = ["| metric | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for name in names:
        cells = [_fmt(values.get(name)) for values in models.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def gate_checks(gate: dict[str, Any]) -> list[dict[str, Any]]:
    """Checks as a list of dicts with a `name`, whether stored as a list or keyed by name."""
    raw = gate.get("checks", [])
    if isinstance(raw, dict):
        return [
            {"name": name, **(check if isinstance(check, dict) else {"value": check})}
            for name, check in raw.items()
        ]
    if isinstance(raw, list) and all(isinstance(c, dict) for c in raw):
        return list(raw)
    raise ReportError("gate.json 'checks' must be a list of objects or an object keyed by check name")


def gate_passed(gate: dict[str, Any]) -> bool:
    """The overall verdict; a verdict that does not say `passed` plainly counts as failed."""
    verdict = gate.get("passed", gate.get("verdict"))
    return verdict is True or verdict == "passed"


def gate_section(gate: dict[str, Any]) -> str:
    checks = gate_checks(gate)
    verdict = (
        "✅ **passed**: registered as `challenger`"
        if gate_passed(gate)
        else ("❌ **failed**: not registered as `challenger`")
    )
    lines = [f"Gate verdict: {verdict}", "", "| check | value | threshold | passed |", "|---|---|---|---|"]
    for check in checks:
        passed = check.get("passed")
        mark = "✅" if passed is True else ("❌" if passed is False else "–")
        lines.append(
            f"| {check.get('name', '?')} | {_fmt(check.get('value'))} | "
            f"{_fmt(check.get('threshold'))} | {mark} |"
        )
    return "\n".join(lines)


def render(report_dir: Path) -> tuple[str, bool]:
    """Markdown for the summary and the gate's verdict."""
    loaded: dict[str, dict[str, Any]] = {}
    for name in ("metrics.json", "gate.json"):
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
    gate = loaded["gate.json"]
    text = "\n\n".join(
        [
            "## Training run",
            "### Metrics",
            metrics_table(loaded["metrics.json"]),
            "### Gate",
            gate_section(gate),
        ]
    )
    return text + "\n", gate_passed(gate)


def main(
    report_dir: Annotated[Path, typer.Option(help="Folder holding metrics.json and gate.json.")],
    summary: Annotated[Path, typer.Option(help="File to append the markdown to ($GITHUB_STEP_SUMMARY).")],
) -> None:
    """Append the run's metrics table and gate verdict to SUMMARY."""
    try:
        text, passed = render(report_dir)
    except ReportError as exc:
        with summary.open("a", encoding="utf-8") as out:
            out.write(f"## Training run\n\nNo training report: {exc}\n")
        typer.echo(f"train_summary: {exc}", err=True)
        raise typer.Exit(1) from None
    with summary.open("a", encoding="utf-8") as out:
        out.write(text)
    typer.echo(f"train_summary: gate {'passed' if passed else 'failed'}")


if __name__ == "__main__":
    typer.run(main)
