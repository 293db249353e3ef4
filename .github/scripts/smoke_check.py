"""Smoke test of a deployed serving app: the right model in the right mode answers real requests.

A deployment step is done only when the environment proves it: /readyz is up, /v1/model reports the
version and mode the step set (the app hot-swaps packages and re-reads flags, so this is polled until
it shows up or the wait runs out), and a few predictions come back valid under the shared contract.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Annotated

import httpx
import typer
from pydantic import ValidationError

from steelthread_contracts import ModelInfo, PredictionRequest, PredictionResponse
from steelthread_contracts.usecase import active

USE_CASE = active()
SMOKE_REQUESTS: tuple[PredictionRequest, ...] = tuple(
    PredictionRequest.model_validate(
        {
            "request_id": f"smoke-{i}",
            USE_CASE.entity.join_key: USE_CASE.entity.example + i,
            **{name: case.inputs[name] for name in USE_CASE.request_names},
        }
    )
    for i, case in enumerate(USE_CASE.smoke_cases[:3])
)
"""Requests built from the use case's own smoke cases (their request fields), so a fork changes nothing
here."""


def model_problems(info: ModelInfo, expect_version: str, expect_mode: str) -> list[str]:
    """What differs between what /v1/model reports and what the deployment step set."""
    problems: list[str] = []
    if expect_mode and info.mode.value != expect_mode:
        problems.append(f"mode is {info.mode.value!r}, expected {expect_mode!r}")
    if expect_version and info.champion.version != expect_version:
        problems.append(f"champion version is {info.champion.version!r}, expected {expect_version!r}")
    if info.flags_problem:  # serving kept its last good flags: the file this step wrote is not in effect
        problems.append(f"flag file not in effect: {info.flags_problem}")
    return problems


def answer_problems(answers: Sequence[PredictionResponse], expect_mode: str) -> list[str]:
    """Answers that contradict the step: wrong mode, or every answer degraded where the model answers."""
    problems = [
        f"{a.request_id}: answered in mode {a.mode.value!r}, expected {expect_mode!r}"
        for a in answers
        if expect_mode and a.mode.value != expect_mode
    ]
    if answers and expect_mode == "live" and all(a.degraded for a in answers):
        reasons = sorted({a.degraded_reason or "?" for a in answers})
        problems.append(f"every smoke answer was degraded ({', '.join(reasons)})")
    return problems


def _wait_for_model(
    client: httpx.Client, expect_version: str, expect_mode: str, deadline: float, poll_seconds: float
) -> ModelInfo:
    last: list[str] = ["no answer yet"]
    while True:
        try:
            ready = client.get("/readyz")
            if ready.status_code != 200:
                last = [f"/readyz answered {ready.status_code}"]
            else:
                response = client.get("/v1/model")
                response.raise_for_status()
                info = ModelInfo.model_validate_json(response.content)
                last = model_problems(info, expect_version, expect_mode)
                if not last:
                    return info
        except (httpx.HTTPError, ValidationError) as exc:
            last = [f"{type(exc).__name__}: {exc}".splitlines()[0]]
        if time.monotonic() > deadline:
            raise SmokeError("; ".join(last))
        time.sleep(poll_seconds)


class SmokeError(RuntimeError):
    """The environment did not reach the expected state in time, or answered wrongly."""


def run_smoke(
    base_url: str,
    api_key: str,
    expect_version: str,
    expect_mode: str,
    wait_seconds: float,
    poll_seconds: float = 5.0,
) -> list[PredictionResponse]:
    headers = {"X-API-Key": api_key}
    with httpx.Client(base_url=base_url, headers=headers, timeout=10.0) as client:
        _wait_for_model(client, expect_version, expect_mode, time.monotonic() + wait_seconds, poll_seconds)
        answers = []
        run = os.urandom(4).hex()  # fresh ids: the server replays an answer to a request id it has seen
        for i, smoke in enumerate(SMOKE_REQUESTS):
            request = smoke.model_copy(update={"request_id": f"smoke-{run}-{i}"})
            response = client.post(
                "/v1/predictions",
                content=request.model_dump_json(),
                headers={"Content-Type": "application/json"},
            )
            if response.status_code != 200:
                raise SmokeError(f"{request.request_id}: HTTP {response.status_code}: {response.text[:200]}")
            answers.append(PredictionResponse.model_validate_json(response.content))
    problems = answer_problems(answers, expect_mode)
    if problems:
        raise SmokeError("; ".join(problems))
    return answers


def main(
    base_url: Annotated[str, typer.Option(help="Serving base URL of the environment.")],
    expect_version: Annotated[str, typer.Option(help="Champion version to expect; empty for any.")] = "",
    expect_mode: Annotated[str, typer.Option(help="Serving mode to expect; empty for any.")] = "",
    wait_seconds: Annotated[float, typer.Option(help="How long to wait for the swap.")] = 300.0,
    poll_seconds: Annotated[float, typer.Option(min=0.1, help="Pause between polls of /v1/model.")] = 5.0,
) -> None:
    """Check that BASE_URL serves the expected model and mode and answers the smoke requests."""
    api_key = os.environ.get("STEELTHREAD_SMOKE_API_KEY", "")
    if not base_url.startswith(("http://", "https://")):
        typer.echo(f"smoke_check: base-url must be an http(s) URL, got {base_url!r}", err=True)
        raise typer.Exit(2)
    if not api_key:
        typer.echo("smoke_check: STEELTHREAD_SMOKE_API_KEY is not set", err=True)
        raise typer.Exit(2)
    try:
        answers = run_smoke(base_url, api_key, expect_version, expect_mode, wait_seconds, poll_seconds)
    except (SmokeError, httpx.HTTPError, ValidationError) as exc:
        typer.echo(f"smoke_check: FAILED: {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(1) from None
    score = USE_CASE.texts.score_field  # the answer's score under the use case's name
    for a in answers:
        typer.echo(
            f"smoke_check: {a.request_id} -> {a.decision.value} {score}={getattr(a, score):.4f} "
            f"model={a.model_name}:{a.model_version} mode={a.mode.value} degraded={a.degraded}"
        )


if __name__ == "__main__":
    typer.run(main)
