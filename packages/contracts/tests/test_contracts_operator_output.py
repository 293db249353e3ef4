"""The shared log set-up and CLI idiom (`steelthread_contracts.logs`, `steelthread_contracts.cli`): JSON lines
with the caller's fields, a warning every request meets kept to one line per interval with its count, one
reader for times and durations, one error line with its hint."""

from __future__ import annotations

import io
import json
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
import typer

from steelthread_contracts.cli import CliError, cli_errors, one_line, parse_duration, parse_time, run
from steelthread_contracts.logs import IntervalFilter, JsonFormatter, configure_logging, throttle


def test_json_lines_carry_the_callers_fields() -> None:
    stream = io.StringIO()
    configure_logging(("steelthread_test",), stream=stream)
    try:
        logging.getLogger("steelthread_test").info(
            "champion now %s", "7", extra={"event": "model_swap", "model_version": "7", "request_id": None}
        )
        logging.getLogger("elsewhere").info("not at INFO")  # other loggers stay at WARNING
    finally:
        logging.getLogger().handlers = []
    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert (line["level"], line["logger"], line["message"]) == ("info", "steelthread_test", "champion now 7")
    assert (line["event"], line["model_version"], line["request_id"]) == ("model_swap", "7", None)
    assert datetime.fromisoformat(line["time"]).tzinfo is not None


def test_a_repeating_warning_is_one_line_per_interval_with_its_count() -> None:
    logger = logging.getLogger("steelthread_test.outage")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    limiter = throttle(logger, 0.3)
    assert throttle(logger, 0.3) is not limiter  # a second install replaces the first
    assert sum(isinstance(f, IntervalFilter) for f in logger.filters) == 1
    try:
        for _ in range(50):
            logger.warning("online features failed: %s", "connection refused", extra={"reason": "down"})
        logger.warning("online features failed: %s", "timeout", extra={"reason": "slow"})  # another kind
        time.sleep(0.35)
        logger.warning("online features failed: %s", "connection refused", extra={"reason": "down"})
        logger.info("info lines are never throttled")
        logger.info("info lines are never throttled")
    finally:
        logger.removeHandler(handler)
        for f in list(logger.filters):
            logger.removeFilter(f)
    lines = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert [line.get("reason") for line in lines] == ["down", "slow", "down", None, None]
    assert "repeated" not in lines[0]
    assert lines[2]["repeated"] == 49
    assert lines[2]["message"] == "online features failed: connection refused (repeated 49 times)"


def test_times_and_durations_have_one_reader() -> None:
    assert parse_time("2026-11-22T10:00:00") == datetime(2026, 11, 22, 10, tzinfo=UTC)  # no zone: UTC
    assert parse_time("2026-11-22T10:00:00Z") == datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert parse_time("2026-11-22T12:00:00+02:00") == datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert abs(parse_time("now") - datetime.now(UTC)) < timedelta(seconds=5)
    with pytest.raises(typer.BadParameter, match="is not an ISO 8601 time"):
        parse_time("yesterday", "--at")
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("2w") == timedelta(weeks=2)
    for bad in ("0h", "24x", "-1d", ""):
        with pytest.raises(typer.BadParameter, match="use a positive number"):
            parse_duration(bad, "--window")


def test_an_operator_error_is_one_line_with_its_hint() -> None:
    error = CliError("cannot listen on 127.0.0.1:8000", exit_code=4, hint="choose another --port")
    assert error.exit_code == 4
    assert one_line(error) == "cannot listen on 127.0.0.1:8000 (hint: choose another --port)"
    assert one_line(ValueError("bad\n  value")) == "ValueError: bad value"


def test_a_cli_in_machine_mode_logs_json_and_fails_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`run` (every console script's entry) writes warnings as JSON lines when stderr is not a terminal, and
    ends an operator error with one `error:` line, its hint and its exit code."""
    app = typer.Typer()

    @app.command()
    @cli_errors
    def check() -> None:
        logging.getLogger("steelthread_test.cli").warning("cache is cold", extra={"event": "cold_cache"})
        raise CliError("no model behind alias champion", exit_code=3, hint="promote a model first")

    monkeypatch.setattr("sys.argv", ["steelthread-test"])
    try:
        with pytest.raises(SystemExit) as ended:
            run(app)
    finally:
        logging.getLogger().handlers = []
    assert ended.value.code == 3
    logged, error = capsys.readouterr().err.strip().splitlines()
    assert json.loads(logged)["event"] == "cold_cache"
    assert error == "error: no model behind alias champion (hint: promote a model first)"
