"""Bad input gets a clear error naming the column; CLIs exit non-zero with one readable line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from steelthread_features import store
from steelthread_features.definitions import EVENT_TIMESTAMP, FEATURE_NAMES, JOIN_KEY, SLICE_COLUMNS, USE_CASE
from steelthread_features.validation import FeatureInputError

FIELDS = USE_CASE.request_fields
NUMBER, INTEGER, STRING = (
    next(f for f in FIELDS if f.storage == storage) for storage in ("float64", "int64", "string")
)
"""One request field of each stored type (the active use case has all three)."""
EXAMPLE = {f.name: f.example if f.example is not None else f.choices[0] for f in FIELDS}

GOOD = {
    JOIN_KEY: [1, 2],
    EVENT_TIMESTAMP: pd.to_datetime(["2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z"]),
    **{name: [value, value] for name, value in EXAMPLE.items()},
}


def frame(**changes: object) -> pd.DataFrame:
    data = dict(GOOD)
    data.update(changes)
    return pd.DataFrame(data)


@pytest.mark.parametrize(
    ("entity_df", "column"),
    [
        (frame(**{EVENT_TIMESTAMP: ["2026-05-01T00:00:00Z", "yesterday"]}), EVENT_TIMESTAMP),
        (frame(**{EVENT_TIMESTAMP: ["2026-05-01", None]}), EVENT_TIMESTAMP),
        (frame(**{EVENT_TIMESTAMP: [1.5, 2.5]}), EVENT_TIMESTAMP),
        (frame(**{JOIN_KEY: ["a", "b"]}), JOIN_KEY),
        (frame(**{JOIN_KEY: [1.0, 2.5]}), JOIN_KEY),
        (frame(**{NUMBER.name: ["1000", "2000"]}), NUMBER.name),
        (frame(**{INTEGER.name: [12.0, None]}), INTEGER.name),
        (frame(**{STRING.name: [EXAMPLE[STRING.name], 3]}), STRING.name),
        (frame().drop(columns=[FIELDS[-1].name]), FIELDS[-1].name),
        (frame(**{FEATURE_NAMES[0]: [1.0, 2.0]}), FEATURE_NAMES[0]),
    ],
)
def test_bad_entity_frames_name_the_column(world, entity_df: pd.DataFrame, column: str) -> None:
    with pytest.raises(FeatureInputError, match=column) as info:
        store.training_frame(entity_df, settings=world.settings)
    assert info.value.column == column
    assert isinstance(info.value, ValueError)


def test_iso_string_timestamps_are_accepted(world) -> None:
    got = store.training_frame(
        frame(**{EVENT_TIMESTAMP: ["2026-05-01T00:00:00Z", "2026-05-02T10:00:00+02:00"]}),
        settings=world.settings,
    )
    assert str(got[EVENT_TIMESTAMP].dtype) == "datetime64[us, UTC]"
    assert got[EVENT_TIMESTAMP].iloc[1] == pd.Timestamp("2026-05-02T08:00:00Z")


def test_unknown_feature_names_are_rejected(world) -> None:
    with pytest.raises(FeatureInputError, match="no_such_feature") as info:
        store.training_frame(frame(), settings=world.settings, features=[FEATURE_NAMES[0], "no_such_feature"])
    assert info.value.column == "no_such_feature"
    with pytest.raises(FeatureInputError, match=SLICE_COLUMNS[0]):
        store.training_frame(frame(), settings=world.settings, features=[SLICE_COLUMNS[0]])


def test_empty_entity_frame_is_rejected(world) -> None:
    with pytest.raises(FeatureInputError, match="empty"):
        store.training_frame(frame().iloc[:0], settings=world.settings)


REQUEST = {JOIN_KEY: 7, **EXAMPLE}
INT_CHOICE = [f for f in FIELDS if f.kind == "choice" and f.storage == "int64"]


@pytest.mark.parametrize(
    ("request_row", "field"),
    [
        ({k: v for k, v in REQUEST.items() if k != JOIN_KEY}, JOIN_KEY),
        ({**REQUEST, JOIN_KEY: "7"}, JOIN_KEY),
        ({**REQUEST, NUMBER.name: "1"}, NUMBER.name),
        ({**REQUEST, INTEGER.name: 12.5}, INTEGER.name),
        *(({**REQUEST, f.name: max(f.choices) + 1}, f.name) for f in INT_CHOICE),
        ({**REQUEST, STRING.name: None}, STRING.name),
    ],
)
def test_bad_online_requests_name_the_field(world, request_row: dict, field: str) -> None:
    with pytest.raises(FeatureInputError, match=field) as info:
        store.online_vector([request_row], settings=world.settings)
    assert info.value.column == field


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / args[0]
    assert script.exists(), f"console script {args[0]} is not installed in {script.parent}"
    return subprocess.run(
        [str(script), *args[1:]],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=120,
        check=False,
    )


def _one_error_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr + result.stdout
    for needle in needles:
        assert needle in lines[0]


def test_data_cli_bad_arguments(tmp_path) -> None:
    _one_error_line(_cli("steelthread-data", "generate", "--rows", "0"), "--rows")
    _one_error_line(_cli("steelthread-data", "generate", "--scenario", "nope"), "--scenario")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    _one_error_line(
        _cli("steelthread-data", "generate", "--rows", "5", "--out", str(blocker / "x")),
        "file",
    )


SCENARIO = list(USE_CASE.scenarios)[-1]


def test_data_cli_writes_and_reports_time(tmp_path) -> None:
    result = _cli("steelthread-data", "generate", "--rows", "50", "--out", str(tmp_path), "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "generated in" in result.stdout
    events = USE_CASE.tables.events
    assert (tmp_path / events / f"{events}.parquet").exists()
    dated = _cli(
        "steelthread-data",
        "generate",
        "--rows",
        "20",
        "--out",
        str(tmp_path / "d"),
        "--end",
        "2026-11-20",
        "--scenario",
        SCENARIO,
    )
    assert dated.returncode == 0, dated.stderr
    manifest = json.loads((tmp_path / "d" / "manifest.json").read_text())
    assert manifest["end"] == "2026-11-20T00:00:00+00:00"
    assert manifest["scenario"] == SCENARIO
    _one_error_line(_cli("steelthread-data", "generate", "--end", "soon"), "--end")


def test_features_cli_bad_arguments(tmp_path) -> None:
    env = {"STEELTHREAD_FEAST_DIR": str(tmp_path), "STEELTHREAD_TABLES_DIR": str(tmp_path)}
    _one_error_line(_cli("steelthread-features", "materialize", "--end", "garbage", env=env), "--end")
    _one_error_line(
        _cli("steelthread-features", "apply", env={**env, "STEELTHREAD_PROFILE": "production"}),
        "STEELTHREAD_OFFLINE_STORE_URI",
    )
    _one_error_line(
        _cli("steelthread-features", "config", env={**env, "STEELTHREAD_PROFILE": "staging"}),
        "profile",
    )


def test_features_cli_names_and_config_need_no_feast(tmp_path) -> None:
    env = {"STEELTHREAD_FEAST_DIR": str(tmp_path), "STEELTHREAD_TABLES_DIR": str(tmp_path)}
    names = _cli("steelthread-features", "names", env=env)
    assert names.returncode == 0
    assert names.stdout.splitlines()[1:] == store.feature_names()
    config = _cli("steelthread-features", "config", env=env)
    assert config.returncode == 0
    assert "type: sqlite" in config.stdout
