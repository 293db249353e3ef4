"""Schemathesis fuzzes the running app from its own OpenAPI document: no input may produce a 5xx, every
answer must match the documented schema and status codes, and invalid input must be refused."""

from __future__ import annotations

import subprocess
import sys

from helpers.serving import API_KEY, Live


def test_schemathesis_finds_no_failure(live: Live) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{live.url}/openapi.json",
            "--checks",
            "all",
            "--header",
            f"X-API-Key: {API_KEY}",
            "--max-examples",
            "60",
            "--seed",
            "20261122",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    tail = (result.stdout + result.stderr)[-4000:]
    assert result.returncode == 0, tail
    assert " passed" in result.stdout, tail
