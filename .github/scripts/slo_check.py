"""Check the serving SLOs in Prometheus over the window a deployment step was observed.

A canary is only worth its name if its numbers can stop the rollout: this asks Prometheus for the
error rate, tail latency, degraded-answer rate, invalid scores and refused packages over the window and
fails the step when one of them is out of bounds or when there was no traffic to judge by.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer


@dataclass(frozen=True)
class Slo:
    name: str
    query: str
    limit: float
    unit: str = ""


def slos(window: str, max_error_ratio: float, max_p99_seconds: float, max_degraded_ratio: float) -> list[Slo]:
    """The SLO queries, over the serving metrics every replica exports on /metrics.

    Counters that never fired have no series, so their side of a ratio falls back to `vector(0)`;
    the denominator has none, so no traffic stays "no data" and fails the check.
    """
    w = window
    return [
        Slo(
            "5xx ratio",
            f'(sum(rate(steelthread_http_requests_total{{status=~"5.."}}[{w}])) or vector(0)) '
            f"/ sum(rate(steelthread_http_requests_total[{w}]))",
            max_error_ratio,
        ),
        Slo(
            "p99 prediction latency",
            "histogram_quantile(0.99, sum by (le) "
            f"(rate(steelthread_prediction_latency_seconds_bucket[{w}])))",
            max_p99_seconds,
            "s",
        ),
        Slo(
            "degraded-answer ratio",
            f"(sum(rate(steelthread_degraded_predictions_total[{w}])) or vector(0)) "
            f"/ sum(rate(steelthread_predictions_total[{w}]))",
            max_degraded_ratio,
        ),
        Slo("invalid scores", f"sum(increase(steelthread_invalid_scores_total[{w}])) or vector(0)", 0.0),
        Slo(
            "refused model packages",
            f"sum(increase(steelthread_model_refusals_total[{w}])) or vector(0)",
            0.0,
        ),
    ]


def traffic_query(window: str) -> str:
    return f"sum(increase(steelthread_predictions_total[{window}]))"


def scalar_from_response(payload: dict[str, Any]) -> float | None:
    """The single value of an instant-vector answer; None when the vector is empty (no series)."""
    if payload.get("status") != "success":
        raise ValueError(f"Prometheus error: {payload.get('error', payload)}")
    data = payload.get("data", {})
    result = data.get("result", [])
    if data.get("resultType") == "scalar":
        return float(result[1])
    if not result:
        return None
    if len(result) != 1:
        raise ValueError(f"expected one series, got {len(result)}")
    return float(result[0]["value"][1])


def breaches(values: dict[str, float | None], checks: list[Slo]) -> list[str]:
    """Human lines for every SLO out of bounds; a missing or NaN value is a breach, never a pass."""
    out = []
    for slo in checks:
        value = values.get(slo.name)
        if value is None or math.isnan(value):
            out.append(f"{slo.name}: no data")
        elif value > slo.limit:
            out.append(f"{slo.name}: {value:.4g}{slo.unit} > {slo.limit:.4g}{slo.unit}")
    return out


def _query(client: httpx.Client, query: str) -> float | None:
    response = client.get("/api/v1/query", params={"query": query})
    response.raise_for_status()
    return scalar_from_response(response.json())


def main(
    prometheus_url: Annotated[str, typer.Option(help="Base URL of the environment's Prometheus.")],
    window: Annotated[str, typer.Option(help="PromQL range, e.g. 30m.")],
    summary: Annotated[Path | None, typer.Option(help="Append a markdown table here.")] = None,
    max_error_ratio: Annotated[float, typer.Option(help="Largest 5xx share.")] = 0.01,
    max_p99_seconds: Annotated[float, typer.Option(help="Largest p99 prediction latency.")] = 0.25,
    max_degraded_ratio: Annotated[float, typer.Option(help="Largest degraded share.")] = 0.05,
    min_predictions: Annotated[float, typer.Option(help="Fewest predictions to judge by.")] = 100,
) -> None:
    """Fail when a serving SLO was breached over WINDOW, or when there was too little traffic to tell."""
    if not re.fullmatch(r"[1-9][0-9]*[smhd]", window):
        typer.echo(f"slo_check: window must look like 30m or 2h, got {window!r}", err=True)
        raise typer.Exit(2)
    checks = slos(window, max_error_ratio, max_p99_seconds, max_degraded_ratio)
    try:
        with httpx.Client(base_url=prometheus_url, timeout=30.0) as client:
            traffic = _query(client, traffic_query(window)) or 0.0
            values = {slo.name: _query(client, slo.query) for slo in checks}
    except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
        typer.echo(f"slo_check: cannot read Prometheus at {prometheus_url}: {exc}", err=True)
        raise typer.Exit(1) from None
    problems = breaches(values, checks)
    if traffic < min_predictions:
        problems.insert(0, f"only {traffic:.0f} predictions in {window} (< {min_predictions:.0f})")
    if summary is not None:
        rows = [f"| {s.name} | {values.get(s.name)} | {s.limit}{s.unit} |" for s in checks]
        with summary.open("a", encoding="utf-8") as out:
            out.write(
                f"### SLO check over {window} ({traffic:.0f} predictions)\n\n| SLO | value | limit |\n"
                "|---|---|---|\n" + "\n".join(rows) + "\n\n"
            )
    if problems:
        typer.echo("slo_check: FAILED: " + "; ".join(problems), err=True)
        raise typer.Exit(1)
    typer.echo(f"slo_check: all SLOs held over {window} ({traffic:.0f} predictions)")


if __name__ == "__main__":
    typer.run(main)
