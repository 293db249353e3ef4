"""Serving imports only what serving needs, with a champion loaded and online features in use.

Each heavy import is measured in seconds here (Feast 6-8 s, MLflow and Evidently more); the serving image
ships without MLflow or Evidently, and a cold start under 3 s needs neither Feast nor pandas. psycopg is
imported only when STEELTHREAD_PREDICTION_LOG_DSN is set (the PostgreSQL sink).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers.packages import make_package, publish
from helpers.serving import API_KEY, write_flags
from helpers.world import FeatureWorld
from steelthread_contracts.usecase import USECASE_ENV, active_name
from steelthread_serving.settings import DEFAULT_FLAGS_PATH

FORBIDDEN = (
    "feast",
    "pandas",
    "mlflow",
    "evidently",
    "sklearn",
    "lightgbm",
    "steelthread_training",
    "psycopg",
)

SCRIPT = """
import json, sys
from fastapi.testclient import TestClient
from steelthread_serving.app import create_app
from steelthread_serving.settings import ServingSettings

request = json.loads(sys.argv[1])
with TestClient(create_app(ServingSettings())) as client:
    for _ in range(200):
        if client.get("/readyz").status_code == 200:
            break
    answer = client.post("/v1/predictions", json=request, headers={"X-API-Key": sys.argv[2]}).json()
print(json.dumps({"answer": answer, "loaded": sorted(m for m in json.loads(sys.argv[3]) if m in sys.modules)}))
"""


def test_a_live_prediction_imports_no_feast_pandas_mlflow_or_evidently(
    tmp_path: Path, world: FeatureWorld
) -> None:
    models = tmp_path / "models"
    make_package(models, "1")
    publish(models, "champion", "1")
    flags = tmp_path / "flags.json"
    flags.write_text(DEFAULT_FLAGS_PATH.read_text())
    write_flags(flags, "live")
    env = {
        "PATH": "/usr/bin:/bin",
        USECASE_ENV: active_name(),
        "STEELTHREAD_API_KEYS": API_KEY,
        "STEELTHREAD_DATA_DIR": str(world.root),
        "STEELTHREAD_MODELS_DIR": str(models),
        "STEELTHREAD_FLAGS_PATH": str(flags),
        "STEELTHREAD_PREDICTION_LOG_DIR": str(tmp_path / "log"),
    }
    request = world.requests(1)[0].model_dump(mode="json", exclude_none=True)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(request), API_KEY, json.dumps(FORBIDDEN)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["answer"]["mode"] == "live"
    assert out["answer"]["degraded"] is False, out["answer"]
    assert out["answer"]["model_version"] == "1"
    assert out["loaded"] == []
