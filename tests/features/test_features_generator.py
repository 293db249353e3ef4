"""The generator: deterministic bytes, realistic signal, scenarios that change only what they name."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from steelthread_usecase_credit.generator import (
    NEW_CATEGORY,
    SCENARIO_COLUMNS,
    TABLES,
    Scenario,
    generate,
    write,
)


def _hashes(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.parquet"))}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path) -> None:
    write(generate(3_000, seed=42), tmp_path / "a")
    write(generate(3_000, seed=42), tmp_path / "b")
    write(generate(3_000, seed=43), tmp_path / "c")
    a, b, c = (_hashes(tmp_path / x) for x in "abc")
    assert len(a) == 4
    assert a == b
    assert all(a[name] != c[name] for name in a)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["sha256"]["applications"] == a["applications.parquet"]


def test_files_use_microsecond_utc_timestamps(tmp_path) -> None:
    write(generate(500, seed=1), tmp_path)
    for table in TABLES:
        schema = pq.read_schema(tmp_path / table / f"{table}.parquet")
        stamps = [f for f in schema if pa.types.is_timestamp(f.type)]
        assert stamps, table
        for f in stamps:
            assert f.type == pa.timestamp("us", tz="UTC"), (table, f.name, f.type)


def test_relationships_and_label_timing() -> None:
    data = generate(20_000, seed=5)
    apps = data.applications.merge(data.labels, on="request_id")
    assert len(apps) == 20_000
    assert (apps["label_timestamp"] > apps["application_timestamp"]).all()
    assert 0.08 < apps["defaulted"].mean() < 0.3
    # Affordability drives default: the top loan-to-income quintile defaults more than the bottom.
    ratio = apps["loan_amount"] / apps["declared_income"].clip(lower=1_000)
    q = pd.qcut(ratio, 5, labels=False)
    assert apps["defaulted"][q == 4].mean() > 1.5 * apps["defaulted"][q == 0].mean()
    assert NEW_CATEGORY not in set(apps["purpose"])
    assert data.applications["request_id"].is_unique
    assert data.customers["customer_id"].is_unique
    assert (data.applications["loan_amount"] > 0).all()
    assert set(data.applications["term_months"]) <= {12, 24, 36, 48, 60}
    assert data.credit_history.notna().all().all()


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return a.equals(b)


@pytest.mark.parametrize("scenario", list(Scenario))
def test_scenario_changes_only_what_it_names(scenario: Scenario) -> None:
    base = generate(4_000, seed=9)
    drift = generate(4_000, seed=9, scenario=scenario)
    allowed = SCENARIO_COLUMNS[scenario]
    changed_somewhere = False
    after_app = (base.applications["application_timestamp"] >= base.drift_start).to_numpy()
    for table in TABLES:
        before, after = base.table(table), drift.table(table)
        assert list(before.columns) == list(after.columns)
        assert len(before) == len(after)
        for column in before.columns:
            same = before[column].equals(after[column])
            if column not in allowed.get(table, ()):
                assert same, f"{scenario}: {table}.{column} changed but is not named"
                continue
            assert not same, f"{scenario}: {table}.{column} did not change"
            changed_somewhere = True
            diff = ~(
                (before[column] == after[column]) | (before[column].isna() & after[column].isna())
            ).to_numpy()
            if table == "credit_history":
                rows_after = (before["event_timestamp"] >= base.drift_start).to_numpy()
            else:
                rows_after = after_app
            assert not diff[~rows_after].any(), f"{scenario}: rows before drift_start changed"
    assert changed_somewhere


def test_scenario_effects_have_the_named_direction() -> None:
    base = generate(8_000, seed=2)
    late = (base.applications["application_timestamp"] >= base.drift_start).to_numpy()
    shifted = generate(8_000, seed=2, scenario="income_shift").applications
    assert shifted["declared_income"][late].mean() < 0.8 * base.applications["declared_income"][late].mean()
    newcat = generate(8_000, seed=2, scenario="new_category").applications
    assert (newcat["purpose"][late] == NEW_CATEGORY).mean() > 0.2
    missing = generate(8_000, seed=2, scenario="missing_values").credit_history
    assert missing["credit_utilisation"].isna().mean() > 0.05
    labels = generate(8_000, seed=2, scenario="label_shift").labels
    assert labels["defaulted"][late].mean() > base.labels["defaulted"][late].mean() + 0.05


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="rows"):
        generate(0)
    with pytest.raises(ValueError, match="not_a_scenario"):
        generate(10, scenario="not_a_scenario")


def test_history_is_sorted_and_before_window_end() -> None:
    data = generate(1_000, seed=3)
    assert (data.credit_history["event_timestamp"] < pd.Timestamp(data.end)).all()
    assert (data.credit_history["created_timestamp"] >= data.credit_history["event_timestamp"]).all()
    assert data.applications["application_timestamp"].is_monotonic_increasing
