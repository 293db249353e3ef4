"""A bad flag file never takes a replica out of service: the last good flags (mode and canary fraction, as one
set) stay in effect until it is fixed, and the problem is named in `/v1/model`, in the metrics and in one log
line per change, not one per poll. Only at start-up, with no good flags to keep, is it fatal: exit 2 and one
line."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers.serving import API_KEY, APPLICATION, Live, free_port, serve_env, serve_process, write_flags
from steelthread_serving.flags import PROVIDER_LOGGER
from steelthread_serving.settings import DEFAULT_FLAGS_PATH

Breakage = Callable[[Path], None]


def rewrite(path: Path, text: str) -> None:
    """Replace the file at once, as a ConfigMap update does (a half-written file is a different test)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def edited(change: Callable[[dict[str, Any]], None]) -> Breakage:
    def apply(path: Path) -> None:
        document = json.loads(path.read_text())
        change(document["flags"])
        rewrite(path, json.dumps(document))

    return apply


def shipped_with(mode: str) -> str:
    document = json.loads(DEFAULT_FLAGS_PATH.read_text())
    document["flags"]["serving-mode"]["defaultVariant"] = mode
    return json.dumps(document)


def _mode_to_live_and_fraction_as_string(flags: dict[str, Any]) -> None:
    flags["serving-mode"]["defaultVariant"] = "live"  # a good change in the same file is not applied either
    fraction = flags["canary-fraction"]
    fraction["variants"][fraction["defaultVariant"]] = "0.5"


def _unknown_mode(flags: dict[str, Any]) -> None:
    flags["serving-mode"]["variants"]["live"] = "turbo"
    flags["serving-mode"]["defaultVariant"] = "live"


BREAKAGES = [
    pytest.param(
        lambda p: rewrite(p, "{not json"), "file_invalid", "Could not parse JSON", id="invalid-json"
    ),
    pytest.param(lambda p: rewrite(p, ""), "file_invalid", "Could not parse JSON", id="empty-file"),
    pytest.param(Path.unlink, "file_missing", "not found", id="deleted-file"),
    pytest.param(
        edited(lambda f: f["serving-mode"].update(defaultVariant="turbo")),
        "no_variant",
        "variant turbo not in variants",
        id="default-names-no-variant",
    ),
    pytest.param(
        edited(lambda f: f.pop("serving-mode")), "flag_missing", "serving-mode is not in", id="deleted-flag"
    ),
    pytest.param(
        edited(lambda f: f["serving-mode"].update(state="DISABLED")),
        "flag_disabled",
        "serving-mode is DISABLED",
        id="disabled-flag",
    ),
    pytest.param(
        edited(_mode_to_live_and_fraction_as_string),
        "wrong_type",
        "canary-fraction: Expected type float but got str",
        id="fraction-as-string",
    ),
    pytest.param(
        edited(
            lambda f: f["canary-fraction"]["variants"].update({f["canary-fraction"]["defaultVariant"]: 1.5})
        ),
        "out_of_range",
        "canary-fraction 1.5 is outside [0, 1]",
        id="fraction-out-of-range",
    ),
    pytest.param(
        edited(_unknown_mode), "unknown_mode", "serving-mode 'turbo' is not one of", id="unknown-mode"
    ),
]


def model_info_when(
    live: Live, done: Callable[[dict[str, Any]], bool], timeout: float = 5.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with live.client() as c:
        while True:
            info: dict[str, Any] = c.get("/v1/model").json()
            if done(info):
                return info
            assert time.monotonic() < deadline, f"/v1/model never got there: {info}"
            time.sleep(0.02)


def flag_events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [getattr(r, "event", "?") for r in caplog.records if r.name == "steelthread_serving.flags"]


@pytest.mark.parametrize(("breakage", "reason", "needle"), BREAKAGES)
def test_a_bad_flag_file_keeps_the_last_good_flags_and_says_why_once(
    live: Live, caplog: pytest.LogCaptureFixture, breakage: Breakage, reason: str, needle: str
) -> None:
    caplog.set_level(logging.INFO, logger="steelthread_serving.flags")
    write_flags(live.flags_path, "canary", 0.25)
    model_info_when(live, lambda i: (i["mode"], i["canary_fraction"]) == ("canary", 0.25))
    caplog.clear()

    breakage(live.flags_path)
    model_info_when(live, lambda i: i["flags_problem"] is not None)
    time.sleep(0.5)  # ten more polls of the broken file
    with live.client() as c:
        ready = c.get("/readyz")
        answer = c.post("/v1/predictions", json=APPLICATION).json()
        info = c.get("/v1/model").json()
        metrics = c.get("/metrics").text
    assert ready.status_code == 200
    assert (info["mode"], info["canary_fraction"], answer["mode"]) == ("canary", 0.25, "canary")
    assert needle in info["flags_problem"]
    assert needle in info["reason"]
    assert "steelthread_flags_valid 0.0" in metrics
    assert f'steelthread_flag_problems_total{{reason="{reason}"}} 1.0' in metrics
    assert 'steelthread_serving_mode{mode="canary"} 1.0' in metrics
    assert flag_events(caplog) == ["flags_problem"]
    [problem_line] = [r for r in caplog.records if r.name == "steelthread_serving.flags"]
    assert needle in problem_line.getMessage()
    assert "keeping the last good flags (mode canary, canary-fraction 0.25)" in problem_line.getMessage()
    # flagd's own traceback: the first of the run at most, not one per poll.
    assert len([r for r in caplog.records if r.name == PROVIDER_LOGGER]) <= 1

    caplog.clear()
    rewrite(live.flags_path, shipped_with("live"))
    info = model_info_when(live, lambda i: i["flags_problem"] is None)
    with live.client() as c:
        metrics = c.get("/metrics").text
    assert (info["mode"], info["canary_fraction"]) == ("live", 0.0)
    assert "steelthread_flags_valid 1.0" in metrics
    assert f'steelthread_flag_problems_total{{reason="{reason}"}} 1.0' in metrics
    assert flag_events(caplog) == ["flags_changed"]
    assert "usable again" in caplog.records[-1].getMessage()


def test_a_second_problem_while_broken_is_logged_and_counted_once_more(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="steelthread_serving.flags")
    write_flags(live.flags_path, "shadow")
    model_info_when(live, lambda i: i["mode"] == "shadow")
    caplog.clear()
    edited(lambda f: f["serving-mode"].update(state="DISABLED"))(live.flags_path)
    model_info_when(live, lambda i: i["flags_problem"] is not None)
    rewrite(live.flags_path, "")
    info = model_info_when(live, lambda i: "Could not parse JSON" in (i["flags_problem"] or ""))
    time.sleep(0.3)
    with live.client() as c:
        metrics = c.get("/metrics").text
    # The provider keeps the last file it could read, so the disabled flag is still reported beside it.
    assert "serving-mode is DISABLED" in info["flags_problem"]
    assert info["mode"] == "shadow"
    assert flag_events(caplog) == ["flags_problem", "flags_problem"]
    assert 'steelthread_flag_problems_total{reason="flag_disabled"} 1.0' in metrics
    assert 'steelthread_flag_problems_total{reason="file_invalid"} 1.0' in metrics


STARTUP_BREAKAGES = [
    pytest.param(lambda p: rewrite(p, "{not json"), "not valid JSON", id="invalid-json"),
    pytest.param(lambda p: rewrite(p, ""), "not valid JSON", id="empty-file"),
    pytest.param(
        lambda p: rewrite(p, '{"flags": {"x": {"state": "ON"}}}'), "not a flagd flag file", id="not-flagd"
    ),
    pytest.param(Path.unlink, "flag file not found", id="deleted-file"),
    *(p for p in BREAKAGES if p.id in {"disabled-flag", "fraction-as-string", "unknown-mode"}),
]


@pytest.mark.parametrize(
    "breakage", [p.values[0] for p in STARTUP_BREAKAGES], ids=[p.id for p in STARTUP_BREAKAGES]
)
def test_start_up_with_bad_flags_exits_2_with_one_line(tmp_path: Path, breakage: Breakage) -> None:
    env = serve_env(tmp_path)
    flags = Path(env["STEELTHREAD_FLAGS_PATH"])
    breakage(flags)
    result = subprocess.run(
        [sys.executable, "-m", "steelthread_serving.cli", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: STEELTHREAD_FLAGS_PATH: flag file {flags}") or lines[0].startswith(
        "error: STEELTHREAD_FLAGS_PATH: flag file not found"
    )
    assert "Traceback" not in result.stderr + result.stdout


def test_the_server_process_logs_a_broken_flag_file_once_as_json(tmp_path: Path) -> None:
    env = serve_env(tmp_path, STEELTHREAD_FLAGS_POLL_MS="50")
    flags = Path(env["STEELTHREAD_FLAGS_PATH"])
    log = tmp_path / "server.log"
    with serve_process(env, log) as url:
        rewrite(flags, "{not json")
        time.sleep(1.5)  # thirty polls of the broken file
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200
        rewrite(flags, shipped_with("shadow"))
        deadline = time.monotonic() + 5
        with httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}) as c:
            while c.get("/v1/model").json()["mode"] != "shadow":
                assert time.monotonic() < deadline
                time.sleep(0.05)
    lines = [json.loads(line) for line in log.read_text().splitlines()]  # every line is one JSON object
    events = [line.get("event") for line in lines if line["logger"] == "steelthread_serving.flags"]
    assert events == ["flags_loaded", "flags_problem", "flags_changed"]
    provider = [line for line in lines if line["logger"] == PROVIDER_LOGGER]
    assert len(provider) == 1
    assert "JSONDecodeError" in provider[0]["exception"]
    [changed] = [line for line in lines if line.get("event") == "flags_changed"]
    assert (changed["mode"], changed["flags_problem"]) == ("shadow", None)
    assert changed["provider_log_repeats_dropped"] >= 10  # the polls whose traceback was dropped, counted


def test_check_flags_reads_a_file_as_the_server_would(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(shipped_with("canary"))
    bad = tmp_path / "bad.json"
    bad.write_text(shipped_with("canary"))
    edited(lambda f: f["serving-mode"].update(state="DISABLED"))(bad)
    serve = [sys.executable, "-m", "steelthread_serving.cli", "--check-flags"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")}  # needs no settings
    ok = subprocess.run([*serve, str(good)], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert (ok.returncode, ok.stdout.strip(), ok.stderr) == (0, f"{good}: mode canary, canary-fraction 0", "")
    refused = subprocess.run(
        [*serve, str(bad)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [f"error: flag file {bad}: serving-mode is DISABLED"]
