"""The Feast-free constants agree with the Feast repo; profiles render as intended."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from steelthread_features import feature_names, store
from steelthread_features.definitions import (
    APPLICATION_FEATURES,
    FEATURE_NAMES,
    FEATURE_SERVICE,
    SLICE_COLUMNS,
    USE_CASE,
)
from steelthread_features.settings import FeatureSettings
from steelthread_features.store_config import (
    redis_connection_string,
    sqlalchemy_url,
    store_config,
)
from steelthread_usecase_credit.domain import HOME_OWNERSHIP, INCOME_FLOOR, PURPOSES
from steelthread_usecase_credit.transforms import application_features, application_row


def test_importing_the_api_does_not_import_feast() -> None:
    code = (
        "import sys, steelthread_features, steelthread_features.store, "
        "steelthread_features.generator; "
        "assert 'feast' not in sys.modules, 'feast imported'; "
        "print(len(steelthread_features.feature_names()))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(len(FEATURE_NAMES))


def test_feature_service_order_matches_constant(world) -> None:
    service = store.get_store(world.settings).get_feature_service(FEATURE_SERVICE)
    names = [f.name for p in service.feature_view_projections for f in p.features]
    assert names == feature_names() == list(FEATURE_NAMES)
    stored_only = {*SLICE_COLUMNS, *(s for v in USE_CASE.views for s in v.strings)}
    assert stored_only
    assert not stored_only & set(names)  # slices and encoded strings are never model inputs


def test_transform_handles_zero_missing_and_unknown() -> None:
    inputs = pd.DataFrame(
        {
            "loan_amount": [12_000.0, 12_000.0, 12_000.0],
            "term_months": [12, 12, 12],
            "purpose": ["car", "crypto", "medical"],
            "declared_income": [0.0, None, 24_000.0],
            "home_ownership": ["rent", None, "own"],
            "total_balance": [1_000.0, 1_000.0, None],
        }
    )
    out = application_features(inputs)
    assert out.loc[0, "income_missing"] == 1.0
    assert out.loc[0, "loan_to_income"] == 12_000.0 / INCOME_FLOOR
    assert out.loc[1, "income_missing"] == 1.0
    assert np.isfinite(out.loc[1, "loan_to_income"])
    assert out.loc[2, "income_missing"] == 0.0
    assert out.loc[2, "loan_to_income"] == 0.5
    assert out.loc[2, "instalment"] == 12_000.0 * 1.12 / 12
    assert np.isnan(out.loc[2, "debt_to_income"])
    assert out.loc[0, ["home_ownership_rent", "home_ownership_own"]].tolist() == [1.0, 0.0]
    assert out.loc[1, ["home_ownership_rent", "home_ownership_own"]].isna().all()
    assert out.loc[1, [c for c in out.columns if c.startswith("purpose_")]].sum() == 0.0
    assert out.loc[0, "purpose_car"] == 1.0


def test_transform_row_alone_equals_row_in_batch() -> None:
    rng = np.random.default_rng(0)
    n = 2_000
    inputs = pd.DataFrame(
        {
            "loan_amount": rng.uniform(500, 100_000, n),
            "term_months": rng.choice([12, 24, 36, 48, 60], n),
            "purpose": rng.choice(["car", "other", "business"], n),
            "declared_income": rng.uniform(0, 200_000, n),
            "home_ownership": rng.choice(["rent", "own", "mortgage"], n),
            "total_balance": rng.uniform(0, 50_000, n),
        }
    )
    batch = application_features(inputs)
    for i in rng.choice(n, 25, replace=False):
        alone = application_features(inputs.iloc[[i]])
        assert np.array_equal(alone.to_numpy()[0], batch.to_numpy()[i], equal_nan=True)


_MONEY = st.one_of(
    st.none(),
    st.just(0.0),
    st.floats(-1_000.0, 1e7, allow_nan=False),
    st.sampled_from([INCOME_FLOOR, INCOME_FLOOR - 1e-9, INCOME_FLOOR + 1e-9, 1e-300]),
)
_ROW = st.fixed_dictionaries(
    {
        "loan_amount": st.floats(1e-3, 1e6, allow_nan=False),
        "term_months": st.sampled_from([1, 12, 24, 36, 48, 60, 7]),
        "purpose": st.sampled_from([*PURPOSES, "crypto", ""]),
        "declared_income": _MONEY,
        "home_ownership": st.sampled_from([*HOME_OWNERSHIP, "boat", None, float("nan")]),
        "total_balance": _MONEY,
    }
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ROW, min_size=1, max_size=20))
def test_row_transform_is_bit_identical_to_the_matrix(rows) -> None:
    """Serving computes one row in plain Python (application_row), training and the on-demand view a
    whole frame in numpy (application_matrix): any difference is training/serving skew."""
    matrix = application_features(pd.DataFrame(rows)).to_numpy()
    for i, row in enumerate(rows):
        alone = np.array(application_row(**row), dtype=np.float64)
        assert np.array_equal(alone, matrix[i], equal_nan=True), (
            row,
            dict(zip(APPLICATION_FEATURES, zip(alone, matrix[i], strict=True), strict=True)),
        )


def test_local_profile_needs_no_server(tmp_path) -> None:
    config = store_config(FeatureSettings(profile="local", feast_dir=tmp_path, tables_dir=tmp_path))
    assert config["offline_store"] == {"type": "duckdb"}
    assert config["online_store"]["type"] == "sqlite"
    assert config["registry"]["registry_type"] == "file"


def test_production_profile_uses_redis_postgres_and_keeps_sslmode(tmp_path) -> None:
    settings = FeatureSettings(
        profile="production",
        feast_dir=tmp_path,
        offline_store_uri="s3://bucket/data/",
        redis_url="redis://:s3cret@redis.internal:6380/2",
        postgres_dsn="postgresql://feast@db.internal:5432/registry?sslmode=verify-full",
    )
    config = store_config(settings)
    assert config["online_store"] == {
        "type": "redis",
        "connection_string": "redis.internal:6380,db=2,password=s3cret",
    }
    assert config["registry"]["registry_type"] == "sql"
    assert config["registry"]["path"] == (
        "postgresql+psycopg://feast@db.internal:5432/registry?sslmode=verify-full"
    )
    assert settings.offline_root() == "s3://bucket/data"
    assert yaml.safe_load(yaml.safe_dump(config)) == config


def test_spark_offline_kind_changes_only_sources(tmp_path) -> None:
    from steelthread_features.sources import batch_source

    spark = FeatureSettings(offline_store_kind="spark", tables_dir=tmp_path, feast_dir=tmp_path)
    assert store_config(spark)["offline_store"]["type"] == "spark"
    table = USE_CASE.views[0].table
    duck = batch_source(FeatureSettings(tables_dir=tmp_path, feast_dir=tmp_path), table)
    assert duck.path == f"{tmp_path.resolve()}/{table}/*.parquet"
    assert type(batch_source(spark, table)).__name__ == "SparkSource"


@pytest.mark.parametrize(
    ("url", "message"),
    [("http://x:1", "redis://"), ("redis://h:1/zero", "number")],
)
def test_bad_redis_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        redis_connection_string(url)


def test_bad_postgres_dsn() -> None:
    with pytest.raises(ValueError, match="postgresql://"):
        sqlalchemy_url("mysql://x")


def test_production_without_offline_uri_fails_clearly(tmp_path) -> None:
    settings = FeatureSettings(profile="production", feast_dir=tmp_path, offline_store_uri=None)
    with pytest.raises(ValueError, match="STEELTHREAD_OFFLINE_STORE_URI"):
        store.get_store(settings)


def test_generated_store_yaml_is_written(world) -> None:
    written = yaml.safe_load((Path(world.settings.feast_dir) / "feature_store.yaml").read_text())
    assert written == store_config(world.settings)


def test_loading_feast_leaves_prometheus_in_process_mode(world, prometheus_env_at_start) -> None:
    import prometheus_client.values

    assert "feast" in sys.modules  # the session store loaded it through load_feast()
    for name, value in prometheus_env_at_start.items():
        assert os.environ.get(name) == value, f"{name} was changed by importing Feast"
    if prometheus_env_at_start["PROMETHEUS_MULTIPROC_DIR"] is None:
        assert prometheus_client.values.ValueClass.__name__ == "MutexValue"
