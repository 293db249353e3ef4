"""The model card: what the model is for, what it was trained on, how good it is and where it is weak.

Written from the run's own numbers so it cannot go stale; a reviewer reads it in MLflow next to the gate.
The task (`tasks.task_kind`) chooses the metrics, the slice columns and the fairness sentence.
"""

from __future__ import annotations

import math
from typing import Any

from steelthread_contracts.package import Task
from steelthread_training.config import GateConfig
from steelthread_training.evaluation import Evaluation
from steelthread_training.frame import USE_CASE
from steelthread_training.gate import GateVerdict

BASELINES = {
    Task.BINARY: "logistic regression",
    Task.REGRESSION: "Ridge regression",
    Task.MULTICLASS: "multinomial logistic regression",
}


def _f(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"


def _intended_use(candidate: Evaluation, review_threshold: float | None, score: str) -> str:
    texts = USE_CASE.texts
    what = f"{texts.score_description} Use case `{USE_CASE.name}` ({candidate.task})"
    if candidate.threshold is not None and review_threshold is not None:
        decision = (
            f"`{texts.score_field}` is declined at score >= {candidate.threshold:.4f} and referred to a "
            f"person from {review_threshold:.4f}."
        )
    else:
        decision = (
            "The package carries no decision threshold: the use case's decision policy turns the score "
            "into a decision."
        )
    scored = f" Score: {score}." if score else ""
    return (
        f"{what}; {decision}{scored} Label: {texts.label_description} "
        "Not for any decision outside the one this use case declares."
    )


def model_card(
    *,
    name: str,
    feature_service: str,
    feature_names: list[str],
    candidate: Evaluation,
    baseline: Evaluation,
    verdict: GateVerdict,
    split: dict[str, Any],
    tags: dict[str, str],
    review_threshold: float | None,
    gate: GateConfig | None = None,
    score: str = "",
) -> str:
    from steelthread_training.tasks import task_kind

    kind = task_kind(candidate.task)
    gate = gate or GateConfig()
    m, b = candidate.metrics.as_dict(), baseline.metrics.as_dict()
    header = kind.slice_header()
    lines = [
        f"# Model card: {name}",
        "",
        "## Intended use",
        _intended_use(candidate, review_threshold, score),
        "",
        "## Training data",
        f"Feature service `{feature_service}` ({len(feature_names)} features, point-in-time joined), "
        "split by time:",
        "",
        "| part | rows | from | to |",
        "|---|---|---|---|",
        *(f"| {k} | {v['rows']} | {v['start']} | {v['end']} |" for k, v in split.items()),
        "",
        f"Data fingerprint `{tags.get('data_fingerprint', '?')}`, seed {tags.get('seed', '?')}, "
        f"git `{tags.get('git_sha', '?')}`, lockfile `{tags.get('lockfile_sha256', '?')[:16]}`.",
        "",
        "## Performance on the test slice (newest data)",
        f"| metric | LightGBM | baseline ({BASELINES[candidate.task]}) |",
        "|---|---|---|",
        *(f"| {k} | {_f(m.get(k))} | {_f(b.get(k))} |" for k in kind.summary),
        "",
        "## Slices and fairness",
        "| slice | rows | " + " | ".join(header) + " | gated |",
        "|---|---|" + "---|" * len(header) + "---|",
        *(
            f"| {s.column}={s.value} | {s.rows} | "
            + " | ".join(kind.slice_cells(s))
            + f" | {'yes' if s.gated else 'no'} |"
            for s in candidate.slices
        ),
        "",
    ]
    if candidate.protected is None:
        lines += ["Fairness: not applicable (the use case declares no protected attribute).", ""]
    else:
        lines += [kind.fairness_line(candidate, gate), ""]
    lines += [
        f"## Gate: {'PASSED' if verdict.passed else 'REFUSED'}",
        "| check | value | rule | passed |",
        "|---|---|---|---|",
        *(
            f"| {c.name} | {_f(c.value)} | {c.rule()} | {'yes' if c.passed else '**no**'} |"
            for c in verdict.checks
        ),
        "",
        *(f"Note: {n}" for n in verdict.notes),
        f"Champion: {verdict.champion.note}",
        "",
        "## Limits",
        f"Trained on data from the {USE_CASE.name} use case's generator (synthetic unless production "
        "tables are configured); scores are only as good as the features "
        "served online (missing values are sent as NaN, never as 0). Retrain when monitoring reports drift.",
        "",
    ]
    return "\n".join(lines)
