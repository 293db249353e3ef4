"""A throwaway local deployment for runbook commands: data, serving, Prometheus, one monitoring run."""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from steelthread_contracts.durations import format_duration
from steelthread_monitoring.job import RunOptions, run_monitoring
from steelthread_monitoring.localstack import start_prometheus, start_serving, wait_for_target_up
from steelthread_monitoring.skew import parquet_source
from steelthread_monitoring.synthetic import LABEL_DELAY, offline_features_for, write_deployment
from steelthread_serving.settings import DEFAULT_FLAGS_PATH

REPO = Path(__file__).resolve().parents[2]
API_KEY = "runbook-test-key-0123456789"


@dataclass(frozen=True)
class LocalDeployment:
    env: dict[str, str]
    data_dir: Path
    flags_path: Path
    pristine_flags: Path
    first_run: Path

    def reset(self) -> None:
        """Undo what a page may have changed: the flag file and the `latest` monitoring run."""
        shutil.copy(self.pristine_flags, self.flags_path)
        link = self.first_run.parent / "latest"
        link.unlink(missing_ok=True)
        link.symlink_to(self.first_run.name, target_is_directory=True)


def _predict(url: str, n: int) -> None:
    """A little traffic so serving metrics and its own prediction log are not empty."""
    for i in range(n):
        body = {
            "customer_id": 1000 + i,
            "loan_amount": 12000.0,
            "term_months": 36,
            "purpose": "car",
            "declared_income": 54000.0,
        }
        request = urllib.request.Request(
            f"{url}/v1/predictions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-API-Key": API_KEY},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200


@pytest.fixture(scope="session")
def local_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    prometheus_bin = shutil.which("prometheus")
    if prometheus_bin is None:
        pytest.fail(
            "prometheus not found; install it with: apt-get update && apt-get install -y prometheus",
            pytrace=False,
        )
    for tool in ("jq", "curl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not found; install it with: apt-get install -y {tool}", pytrace=False)
    root = tmp_path_factory.mktemp("runbook-deployment")
    data_dir = root / "var"
    now = datetime.now(UTC)
    # A healthy deployment: its model trained a week ago, well inside the age SteelthreadModelStale allows.
    deployment = write_deployment(
        data_dir, 2000, now - timedelta(minutes=5), package_created_at=now - timedelta(days=7)
    )
    pristine = root / "flags.pristine.json"
    shutil.copy(DEFAULT_FLAGS_PATH, pristine)
    flags = root / "flags.json"
    shutil.copy(pristine, flags)
    serving = start_serving(data_dir, flags, API_KEY, root)
    try:
        prometheus = start_prometheus(
            prometheus_bin,
            REPO / "infra" / "prometheus" / "prometheus.yml",
            serving.url.removeprefix("http://"),
            root,
        )
        try:
            _predict(serving.url, 5)
            wait_for_target_up(prometheus.url)
            offline = root / "offline-features.parquet"
            offline_features_for(deployment.log_dir, "none").to_parquet(offline)
            outcome = run_monitoring(
                RunOptions(
                    window=timedelta(hours=24),
                    log_dir=deployment.log_dir,
                    feedback_dir=deployment.feedback_dir,
                    models_dir=deployment.models_dir,
                    out_dir=data_dir / "monitoring",
                    textfile=data_dir / "textfile" / "steelthread_monitor.prom",
                    offline_features=parquet_source(offline),
                    label_delay=LABEL_DELAY,
                )
            )
            env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")}
            env |= {
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
                "STEELTHREAD_DATA_DIR": str(data_dir),
                "STEELTHREAD_URL": serving.url,
                "STEELTHREAD_METRICS_URL": serving.url,  # no STEELTHREAD_METRICS_PORT here: the API's
                "STEELTHREAD_API_KEY": API_KEY,
                "STEELTHREAD_FLAGS_PATH": str(flags),
                "PROMETHEUS_URL": prometheus.url,
                "STEELTHREAD_MONITOR_LABEL_DELAY": format_duration(LABEL_DELAY),
            }
            yield LocalDeployment(env, data_dir, flags, pristine, outcome.run_dir)
        finally:
            prometheus.stop()
    finally:
        serving.stop()
