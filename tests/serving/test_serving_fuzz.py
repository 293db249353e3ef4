"""Schemathesis fuzzes the running app from its own OpenAPI document: no input may produce a 5xx, every
answer must match the documented schema and status codes, and invalid input must be refused. A quick run
in every suite; a few hundred examples per operation in the slow-marked one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers.serving import API_KEY, Live


@pytest.mark.parametrize(
    "examples", [pytest.param(60, id="quick"), pytest.param(300, id="thorough", marks=pytest.mark.slow)]
)
def test_schemathesis_finds_no_failure(live: Live, examples: int) -> None:
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
            str(examples),
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
