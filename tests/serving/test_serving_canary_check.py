"""The canary check (`.github/scripts/canary_check.py`, as `_deploy.yml` runs it) against a real Prometheus
scraping the real app: a good canary is promoted; one that errors and one whose scores moved are aborted;
the abort serves stable to everyone at once, then the rollback's pointer move and live mode restore it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from helpers.packages import make_constant_package, make_package, promote, publish
from helpers.serving import Live, body, running, serves, wait_until, write_flags
from helpers.usecase import SCORE_FIELD, USE_CASE
from helpers.world import FeatureWorld
from steelthread_monitoring.localstack import Process, start_prometheus, wait_for_target_up
from steelthread_serving.settings import ServingSettings

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / ".github" / "scripts"

FRACTION = 0.3

pytestmark = pytest.mark.slow


def promote_to(settings: ServingSettings, version: str) -> None:
    assert settings.models_dir is not None
    promote(settings.models_dir, version)


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """A real Prometheus with the shipped config, its serving target set by `scrape`."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed (Debian package `prometheus`; `make tools` installs it)"
    started: list[Process] = []

    def scrape(target: str) -> str:
        process = start_prometheus(binary, REPO / "infra" / "prometheus" / "prometheus.yml", target, tmp_path)
        started.append(process)
        wait_for_target_up(process.url)
        return process.url

    yield scrape
    for process in started:
        process.stop()


def traffic(
    live: Live, requests: list[dict[str, object]], rounds: int, answers: list[dict[str, object]] | None = None
) -> int:
    with live.client() as c:
        for _ in range(rounds):
            for request in requests:
                answer = c.post("/v1/predictions", json=request)
                assert answer.status_code == 200
                if answers is not None:
                    answers.append(answer.json())
    return rounds * len(requests)


def scraped(prometheus: str, total: float) -> None:
    """Wait until Prometheus has scraped `total` predictions, then one more scrape."""
    query = "sum(steelthread_version_predictions_total)"

    def seen() -> bool:
        result = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=5).json()
        values = result["data"]["result"]
        return bool(values) and float(values[0]["value"][1]) >= total

    wait_until(seen, timeout=30)
    time.sleep(1.5)


def canary_check(prometheus: str, version: str, summary: Path) -> subprocess.CompletedProcess[str]:
    """The check as `_deploy.yml` runs it, with limits sized for a test's traffic."""
    return subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "canary_check.py"),
            "--prometheus-url",
            prometheus,
            "--window",
            "1m",
            "--canary-version",
            version,
            "--min-predictions",
            "40",
            "--max-p95-seconds",
            "1",
            "--latency-slack-seconds",
            "0.05",
            "--summary",
            str(summary),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_canary_check_promotes_a_good_canary_aborts_a_bad_one_and_the_abort_serves_stable(
    model_settings: ServingSettings, world: FeatureWorld, prometheus: Callable[[str], str], tmp_path: Path
) -> None:
    models = model_settings.models_dir
    assert models is not None
    make_package(models, "1", seed=1)
    make_package(models, "2", seed=1)  # the same model retrained: a canary that should go live
    promote_to(model_settings, "1")
    promote_to(model_settings, "2")
    write_flags(model_settings.flags_path, "canary", FRACTION)
    requests = [body(r) for r in world.requests(100)]
    summary = tmp_path / "summary.md"
    with running(model_settings) as live:
        wait_until(lambda: serves(live, "2", "1"))
        url = prometheus(live.url.removeprefix("http://"))
        sent = traffic(live, requests, 1)  # every series exists before the traffic that is judged
        scraped(url, sent)
        answered: list[dict[str, object]] = []
        sent += traffic(live, requests, 3, answered)
        scraped(url, sent)
        good = canary_check(url, "2", summary)
        assert good.returncode == 0, good.stderr
        assert "PROMOTE: canary v2" in good.stdout
        assert "against stable v1" in good.stdout

        # A bad canary: every score it gives is outside the use case's range (invalid, so it errors).
        make_constant_package(models, "3", USE_CASE.score_range[0] - 1.0)
        promote_to(model_settings, "3")
        wait_until(lambda: serves(live, "3", "2"))
        sent += traffic(live, requests, 1)
        scraped(url, sent)
        sent += traffic(live, requests, 3)
        scraped(url, sent)
        bad = canary_check(url, "3", summary)
        assert bad.returncode == 1, bad.stdout
        assert "ABORT: canary v3" in bad.stderr
        assert "against stable v2" in bad.stderr
        assert "model-error share vs stable" in bad.stderr
        assert "Traceback" not in bad.stderr

        # The abort, as the workflow does it: everyone to stable at once (canary fraction 0) ...
        flags = subprocess.run(
            [
                sys.executable,
                str(SCRIPTS / "serving_flags.py"),
                "--base",
                str(model_settings.flags_path),
                "--mode",
                "canary",
                "--canary-fraction",
                "0",
                "--out",
                str(model_settings.flags_path),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert flags.returncode == 0, flags.stderr
        with live.client() as c:
            wait_until(lambda: c.get("/v1/model").json()["canary_fraction"] == 0.0)
            aborted = [c.post("/v1/predictions", json=r).json() for r in requests]
        assert {(a["model_version"], a["degraded"]) for a in aborted} == {("2", False)}
        # ... then the rollback's pointer move (champion back to the stable version) and live mode.
        publish(models, "champion", "2")
        publish(models, "stable", "2")
        write_flags(model_settings.flags_path, "live")
        with live.client() as c:
            wait_until(lambda: serves(live, "2", "2") and c.get("/v1/model").json()["mode"] == "live")
            restored = [c.post("/v1/predictions", json=r).json() for r in requests]
        assert {(a["model_version"], a["mode"], a["degraded"]) for a in restored} == {("2", "live", False)}

        # A canary that answers, but far from what stable answers: one valid score at the end of the range
        # where stable's answers are fewest.
        stable_scores = sorted(float(str(a[SCORE_FIELD])) for a in answered if a["model_version"] == "1")
        low, high = USE_CASE.score_range
        median, step = stable_scores[len(stable_scores) // 2], (high - low) / 100
        make_constant_package(models, "4", high - step if median < (low + high) / 2 else low + step)
        promote_to(model_settings, "4")
        write_flags(model_settings.flags_path, "canary", FRACTION)
        wait_until(lambda: serves(live, "4", "2"))
        sent += traffic(live, requests, 1)
        scraped(url, sent)
        sent += traffic(live, requests, 3)
        scraped(url, sent)
        shifted = canary_check(url, "4", summary)
        assert shifted.returncode == 1, shifted.stdout
        assert "ABORT: canary v4" in shifted.stderr
        assert "score shift" in shifted.stderr
        assert "model-error share" not in shifted.stderr  # it answered; only its scores moved
    table = summary.read_text()
    assert "score shift" in table.split("### Canary check: canary v4")[1]
    assert "### Canary check: canary v2" in table
    assert "score shift (PSI less chance" in table
    assert "FAILED" in table.split("### Canary check: canary v3")[1]
