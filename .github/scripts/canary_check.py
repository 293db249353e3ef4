"""Decide a canary from its own numbers: promote it to live, or abort it back to the stable model.

During a canary the serving app routes a sticky fraction of entity keys to the new champion and the rest to
`stable` (the champion it replaced), and counts every prediction by routed role and model version
(`steelthread_version_*`). Pooled numbers would dilute a small canary's errors in the stable's traffic, so
this compares the two populations over the observed window, in Prometheus:

- model-error share (the model raised or gave an invalid score) and degraded share (any fallback answer):
  the canary's may exceed the stable's by at most a margin;
- p95 latency: at most a ratio of the stable's, plus a small slack;
- score shift: the population stability index (PSI) of the two score histograms, whose bins are fixed over
  the use case's score range, less the PSI two samples of these sizes show by chance alone (about
  (bins - 1) x (1/n1 + 1/n2)), so a small canary is not aborted for its sampling noise;
- and, whether or not a stable serves, the canary's own shares and p95 under absolute ceilings.

Too little traffic on either side, or a value Prometheus cannot give, is an abort, never a pass. Without a
stable (a first champion, whose other customers get the fallback) only the absolute ceilings apply, and the
output says so. Exit 0: promote; 1: abort (the workflow then serves stable to everyone and rolls back);
2: bad input.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from slo_check import scalar_from_response

PREDICTIONS = "steelthread_version_predictions_total"
LATENCY = "steelthread_version_latency_seconds_bucket"
SCORE = "steelthread_version_score_bucket"
PSI_FLOOR = 1e-4
"""An empty bin counts as this share, so one empty bin does not make the index infinite."""


@dataclass(frozen=True)
class Side:
    """One population: the routed role and the model version that served it."""

    role: str
    version: str

    def selector(self, extra: str = "") -> str:
        return f'{{role="{self.role}",model_version="{self.version}"{extra}}}'


@dataclass(frozen=True)
class Numbers:
    """What the window says about one side."""

    predictions: float
    model_errors: float
    degraded: float
    p95_seconds: float | None
    score_bins: list[float]

    @property
    def error_share(self) -> float:
        return self.model_errors / self.predictions if self.predictions else math.nan

    @property
    def degraded_share(self) -> float:
        return self.degraded / self.predictions if self.predictions else math.nan


@dataclass(frozen=True)
class Limits:
    min_predictions: float = 100
    max_error_increase: float = 0.005
    max_degraded_increase: float = 0.02
    max_latency_ratio: float = 1.5
    latency_slack_seconds: float = 0.005
    max_score_psi: float = 0.2
    max_error_share: float = 0.01
    max_degraded_share: float = 0.05
    max_p95_seconds: float = 0.25


@dataclass(frozen=True)
class Check:
    name: str
    canary: float | None
    stable: float | None
    limit: float
    passed: bool


def psi(expected: list[float], actual: list[float], floor: float = PSI_FLOOR) -> float:
    """Population stability index of two histograms over the same bins (counts, not shares)."""
    if len(expected) != len(actual) or not expected:
        raise ValueError("the two histograms need the same, non-empty bins")
    e_total, a_total = sum(expected), sum(actual)
    if e_total <= 0 or a_total <= 0:
        return math.nan
    index = 0.0
    for e, a in zip(expected, actual, strict=True):
        p, q = max(e / e_total, floor), max(a / a_total, floor)
        index += (q - p) * math.log(q / p)
    return index


def chance_psi(expected: list[float], actual: list[float]) -> float:
    """The PSI two samples of these sizes from one distribution show on average: PSI is close to the
    symmetric chi-square divergence, whose expectation is (bins - 1)(1/n1 + 1/n2)."""
    used = sum(1 for e, a in zip(expected, actual, strict=True) if e > 0 or a > 0)
    n1, n2 = sum(expected), sum(actual)
    if n1 <= 0 or n2 <= 0:
        return math.nan
    return max(used - 1, 0) * (1 / n1 + 1 / n2)


def bins_from_buckets(buckets: dict[float, float]) -> list[float]:
    """Per-bin counts from a Prometheus histogram's cumulative `le` buckets (+Inf included)."""
    counts, below = [], 0.0
    for bound in sorted(buckets):
        counts.append(max(buckets[bound] - below, 0.0))
        below = max(buckets[bound], below)
    return counts


def _ok(value: float | None, limit: float) -> bool:
    return value is not None and not math.isnan(value) and value <= limit


def decide(canary: Numbers, stable: Numbers | None, limits: Limits) -> list[Check]:
    """Every check of the canary; it is promoted only when all pass."""
    checks = [
        Check("canary predictions (fewest)", canary.predictions, None, limits.min_predictions,
              canary.predictions >= limits.min_predictions),
        Check("canary model-error share", canary.error_share, None, limits.max_error_share,
              _ok(canary.error_share, limits.max_error_share)),
        Check("canary degraded share", canary.degraded_share, None, limits.max_degraded_share,
              _ok(canary.degraded_share, limits.max_degraded_share)),
        Check("canary p95 latency (s)", canary.p95_seconds, None, limits.max_p95_seconds,
              _ok(canary.p95_seconds, limits.max_p95_seconds)),
    ]  # fmt: skip
    if stable is None:
        return checks
    error_limit = stable.error_share + limits.max_error_increase
    degraded_limit = stable.degraded_share + limits.max_degraded_increase
    latency_limit = (
        math.nan
        if stable.p95_seconds is None
        else stable.p95_seconds * limits.max_latency_ratio + limits.latency_slack_seconds
    )
    shift, chance = None, math.nan
    if stable.score_bins and canary.score_bins:
        chance = chance_psi(stable.score_bins, canary.score_bins)
        shift = psi(stable.score_bins, canary.score_bins) - chance
    checks += [
        Check("stable predictions (fewest)", None, stable.predictions, limits.min_predictions,
              stable.predictions >= limits.min_predictions),
        Check("model-error share vs stable", canary.error_share, stable.error_share, error_limit,
              _ok(canary.error_share, error_limit)),
        Check("degraded share vs stable", canary.degraded_share, stable.degraded_share, degraded_limit,
              _ok(canary.degraded_share, degraded_limit)),
        Check("p95 latency vs stable (s)", canary.p95_seconds, stable.p95_seconds, latency_limit,
              _ok(canary.p95_seconds, latency_limit)),
        Check("score shift (PSI" + (f" less chance {chance:.3g})" if math.isfinite(chance) else ")"), shift,
              None, limits.max_score_psi, _ok(shift, limits.max_score_psi)),
    ]  # fmt: skip
    return checks


class Prometheus:
    """Instant queries, all evaluated at the same moment, so the shares of one side add up."""

    def __init__(self, client: httpx.Client, window: str) -> None:
        self.client = client
        self.window = window
        self.at = f"{time.time():.3f}"

    def query(self, query: str) -> dict[str, Any]:
        response = self.client.get("/api/v1/query", params={"query": query, "time": self.at})
        response.raise_for_status()
        payload: dict[str, Any] = response.json()
        if payload.get("status") != "success":
            raise ValueError(f"Prometheus error: {payload.get('error', payload)}")
        return payload

    def scalar(self, query: str) -> float | None:
        return scalar_from_response(self.query(query))

    def stable_versions(self) -> list[str]:
        """The versions serving reports as `stable` now (every replica should report the same one)."""
        result = self.query('max by (version) (steelthread_model_info{role="stable"}) == 1')["data"]["result"]
        return sorted(str(series["metric"].get("version", "")) for series in result)

    def numbers(self, side: Side) -> Numbers:
        w, every = self.window, side.selector()
        errors_only, not_ok = side.selector(',outcome="model_error"'), side.selector(',outcome!="ok"')
        total = self.scalar(f"sum(increase({PREDICTIONS}{every}[{w}]))") or 0.0
        errors = self.scalar(f"sum(increase({PREDICTIONS}{errors_only}[{w}])) or vector(0)")
        degraded = self.scalar(f"sum(increase({PREDICTIONS}{not_ok}[{w}])) or vector(0)")
        p95 = self.scalar(f"histogram_quantile(0.95, sum by (le) (rate({LATENCY}{every}[{w}])))")
        result = self.query(f"sum by (le) (increase({SCORE}{every}[{w}]))")["data"]["result"]
        buckets = {float(s["metric"]["le"]): float(s["value"][1]) for s in result}
        return Numbers(
            predictions=total,
            model_errors=errors or 0.0,
            degraded=degraded or 0.0,
            p95_seconds=None if p95 is None or math.isnan(p95) else p95,
            score_bins=bins_from_buckets(buckets),
        )


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def main(
    prometheus_url: Annotated[str, typer.Option(help="Base URL of the environment's Prometheus.")],
    window: Annotated[str, typer.Option(help="PromQL range the canary was observed over, e.g. 30m.")],
    canary_version: Annotated[str, typer.Option(help="The model version under canary (the champion).")],
    stable_version: Annotated[
        str, typer.Option(help="The stable version; default: the one serving reports as `stable`.")
    ] = "",
    summary: Annotated[Path | None, typer.Option(help="Append a markdown table here.")] = None,
    min_predictions: Annotated[float, typer.Option(help="Fewest predictions on each side.")] = 100,
    max_error_increase: Annotated[float, typer.Option(help="Model-error share above stable's.")] = 0.005,
    max_degraded_increase: Annotated[float, typer.Option(help="Degraded share above stable's.")] = 0.02,
    max_latency_ratio: Annotated[float, typer.Option(help="Canary p95 / stable p95.")] = 1.5,
    latency_slack_seconds: Annotated[float, typer.Option(help="Added to the p95 limit.")] = 0.005,
    max_score_psi: Annotated[float, typer.Option(help="Largest score-distribution PSI.")] = 0.2,
    max_error_share: Annotated[float, typer.Option(help="Canary's model-error share, absolute.")] = 0.01,
    max_degraded_share: Annotated[float, typer.Option(help="Canary's degraded share, absolute.")] = 0.05,
    max_p95_seconds: Annotated[float, typer.Option(help="Canary's p95 latency, absolute.")] = 0.25,
) -> None:
    """Exit 0 when the canary may go live, 1 when it must be aborted back to stable."""
    if not re.fullmatch(r"[1-9][0-9]*[smhd]", window):
        typer.echo(f"canary_check: window must look like 30m or 2h, got {window!r}", err=True)
        raise typer.Exit(2)
    for name, version in (("canary-version", canary_version), ("stable-version", stable_version)):
        if version and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", version):
            typer.echo(f"canary_check: {name} must be a model version, got {version!r}", err=True)
            raise typer.Exit(2)
    limits = Limits(
        min_predictions=min_predictions,
        max_error_increase=max_error_increase,
        max_degraded_increase=max_degraded_increase,
        max_latency_ratio=max_latency_ratio,
        latency_slack_seconds=latency_slack_seconds,
        max_score_psi=max_score_psi,
        max_error_share=max_error_share,
        max_degraded_share=max_degraded_share,
        max_p95_seconds=max_p95_seconds,
    )
    try:
        with httpx.Client(base_url=prometheus_url, timeout=30.0) as client:
            prometheus = Prometheus(client, window)
            if not stable_version:
                versions = prometheus.stable_versions()
                if len(versions) > 1:
                    typer.echo(f"canary_check: ABORT: replicas report different stable versions {versions}",
                               err=True)  # fmt: skip
                    raise typer.Exit(1)
                stable_version = versions[0] if versions else ""
            canary = prometheus.numbers(Side("champion", canary_version))
            stable = prometheus.numbers(Side("stable", stable_version)) if stable_version else None
    except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
        typer.echo(f"canary_check: ABORT: cannot read Prometheus at {prometheus_url}: {exc}", err=True)
        raise typer.Exit(1) from None
    checks = decide(canary, stable, limits)
    against = f"stable v{stable_version}" if stable else "no stable (a first champion: absolute limits only)"
    heading = (
        f"canary v{canary_version} ({canary.predictions:.0f} predictions) against {against}"
        + (f" ({stable.predictions:.0f} predictions)" if stable else "")
        + f" over {window}"
    )
    if summary is not None:
        rows = [
            f"| {c.name} | {_cell(c.canary)} | {_cell(c.stable)} | {_cell(c.limit)} | "
            f"{'ok' if c.passed else 'FAILED'} |"
            for c in checks
        ]
        with summary.open("a", encoding="utf-8") as out:
            out.write(f"### Canary check: {heading}\n\n| check | canary | stable | limit | |\n")
            out.write("|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n")
    failed = [c for c in checks if not c.passed]
    if failed:
        reasons = "; ".join(f"{c.name}: {_cell(c.canary if c.canary is not None else c.stable)} "
                            f"(limit {_cell(c.limit)})" for c in failed)  # fmt: skip
        typer.echo(f"canary_check: ABORT: {heading}: {reasons}", err=True)
        raise typer.Exit(1)
    typer.echo(f"canary_check: PROMOTE: {heading}: every check passed")


if __name__ == "__main__":
    typer.run(main)
