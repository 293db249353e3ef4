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
from steelthread_features.validation import FeatureInputError

GOOD = {
    "customer_id": [1, 2],
    "event_timestamp": pd.to_datetime(["2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z"]),
    "loan_amount": [1_000.0, 2_000.0],
    "term_months": [12, 36],
    "purpose": ["car", "other"],
    "declared_income": [30_000.0, 0.0],
}


def frame(**changes: object) -> pd.DataFrame:
    data = dict(GOOD)
    data.update(changes)
    return pd.DataFrame(data)


@pytest.mark.parametrize(
    ("entity_df", "column"),
    [
        (frame(event_timestamp=["2026-05-01T00:00:00Z", "yesterday"]), "event_timestamp"),
        (frame(event_timestamp=["2026-05-01", None]), "event_timestamp"),
        (frame(event_timestamp=[1.5, 2.5]), "event_timestamp"),
        (frame(customer_id=["a", "b"]), "customer_id"),
        (frame(customer_id=[1.0, 2.5]), "customer_id"),
        (frame(loan_amount=["1000", "2000"]), "loan_amount"),
        (frame(term_months=[12.0, None]), "term_months"),
        (frame(purpose=["car", 3]), "purpose"),
        (frame().drop(columns=["declared_income"]), "declared_income"),
        (frame(age=[1.0, 2.0]), "age"),
    ],
)
def test_bad_entity_frames_name_the_column(world, entity_df: pd.DataFrame, column: str) -> None:
    with pytest.raises(FeatureInputError, match=column) as info:
        store.training_frame(entity_df, settings=world.settings)
    assert info.value.column == column
    assert isinstance(info.value, ValueError)


def test_iso_string_timestamps_are_accepted(world) -> None:
    got = store.training_frame(
        frame(event_timestamp=["2026-05-01T00:00:00Z", "2026-05-02T10:00:00+02:00"]),
        settings=world.settings,
    )
    assert str(got["event_timestamp"].dtype) == "datetime64[us, UTC]"
    assert got["event_timestamp"].iloc[1] == pd.Timestamp("2026-05-02T08:00:00Z")


def test_unknown_feature_names_are_rejected(world) -> None:
    with pytest.raises(FeatureInputError, match="no_such_feature") as info:
        store.training_frame(frame(), settings=world.settings, features=["age", "no_such_feature"])
    assert info.value.column == "no_such_feature"
    with pytest.raises(FeatureInputError, match="region"):
        store.training_frame(frame(), settings=world.settings, features=["region"])


def test_empty_entity_frame_is_rejected(world) -> None:
    with pytest.raises(FeatureInputError, match="empty"):
        store.training_frame(frame().iloc[:0], settings=world.settings)


@pytest.mark.parametrize(
    ("request_row", "field"),
    [
        ({"loan_amount": 1.0, "term_months": 12, "purpose": "car", "declared_income": 1.0}, "customer_id"),
        (
            {
                "customer_id": "7",
                "loan_amount": 1.0,
                "term_months": 12,
                "purpose": "car",
                "declared_income": 1.0,
            },
            "customer_id",
        ),
        (
            {
                "customer_id": 7,
                "loan_amount": "1",
                "term_months": 12,
                "purpose": "car",
                "declared_income": 1.0,
            },
            "loan_amount",
        ),
        (
            {
                "customer_id": 7,
                "loan_amount": 1.0,
                "term_months": 12.5,
                "purpose": "car",
                "declared_income": 1.0,
            },
            "term_months",
        ),
        (
            {
                "customer_id": 7,
                "loan_amount": 1.0,
                "term_months": 0,
                "purpose": "car",
                "declared_income": 1.0,
            },
            "term_months",
        ),
        (
            {
                "customer_id": 7,
                "loan_amount": 1.0,
                "term_months": 12,
                "purpose": None,
                "declared_income": 1.0,
            },
            "purpose",
        ),
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


def test_data_cli_writes_and_reports_time(tmp_path) -> None:
    result = _cli("steelthread-data", "generate", "--rows", "50", "--out", str(tmp_path), "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "generated in" in result.stdout
    assert (tmp_path / "applications" / "applications.parquet").exists()
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
        "label_shift",
    )
    assert dated.returncode == 0, dated.stderr
    manifest = json.loads((tmp_path / "d" / "manifest.json").read_text())
    assert manifest["end"] == "2026-11-20T00:00:00+00:00"
    assert manifest["scenario"] == "label_shift"
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
