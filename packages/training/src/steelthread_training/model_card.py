"""The model card: what the model is for, what it was trained on, how good it is and where it is weak.

Written from the run's own numbers so it cannot go stale; a reviewer reads it in MLflow next to the gate.
"""

from __future__ import annotations

import math
from typing import Any

from steelthread_training.evaluation import Evaluation
from steelthread_training.frame import USE_CASE
from steelthread_training.gate import GateVerdict


def _f(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"


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
    review_threshold: float,
) -> str:
    m, b = candidate.metrics, baseline.metrics
    lines = [
        f"# Model card: {name}",
        "",
        "## Intended use",
        f"{USE_CASE.texts.score_description} Use case `{USE_CASE.name}` ({USE_CASE.task}); "
        f"`{USE_CASE.texts.score_field}` is declined at score >= {candidate.threshold:.4f} and referred to a "
        f"person from {review_threshold:.4f}. Label: {USE_CASE.texts.label_description} "
        "Not for any decision outside the one this use case declares.",
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
        "| metric | LightGBM | baseline (logistic regression) |",
        "|---|---|---|",
        f"| ROC AUC | {_f(m.roc_auc)} | {_f(b.roc_auc)} |",
        f"| PR AUC | {_f(m.pr_auc)} | {_f(b.pr_auc)} |",
        f"| log loss | {_f(m.log_loss)} | {_f(b.log_loss)} |",
        f"| Brier | {_f(m.brier)} | {_f(b.brier)} |",
        f"| approval rate | {_f(m.approval_rate)} | {_f(b.approval_rate)} |",
        "",
        "## Slices and fairness",
        "| slice | rows | ROC AUC | approval rate | gated |",
        "|---|---|---|---|---|",
        *(
            f"| {s.column}={s.value} | {s.rows} | {_f(s.roc_auc)} | {_f(s.approval_rate)} "
            f"| {'yes' if s.gated else 'no'} |"
            for s in candidate.slices
        ),
        "",
    ]
    if candidate.protected is None:
        lines += ["Fairness: not applicable (the use case declares no protected attribute).", ""]
    elif candidate.fairness is not None:
        rates = ", ".join(f"{g}: {r:.3f}" for g, r in candidate.fairness.approval_rates.items())
        lines += [
            f"Approval rates by `{candidate.fairness.column}`: {rates}; ratio {_f(candidate.fairness.ratio)} "
            "(the 80% rule asks for at least 0.8). The protected attribute is never a model input.",
            "",
        ]
    lines += [
        f"## Gate: {'PASSED' if verdict.passed else 'REFUSED'}",
        "| check | value | rule | passed |",
        "|---|---|---|---|",
        *(
            f"| {c.name} | {_f(c.value)} | {c.rule()} | {'yes' if c.passed else '**no**'} |"
            for c in verdict.checks
        ),
        "",
        f"Champion: {verdict.champion.note}",
        "",
        "## Limits",
        f"Trained on data from the {USE_CASE.name} use case's generator (synthetic unless production "
        "tables are configured); scores are only as good as the features "
        "served online (missing values are sent as NaN, never as 0). Retrain when monitoring reports drift.",
        "",
    ]
    return "\n".join(lines)
