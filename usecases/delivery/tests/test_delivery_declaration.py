"""The delivery declaration is registered, consistent with its own code (generator, transform, training
config), and decides as its texts say."""

from __future__ import annotations

import importlib

import pytest
import yaml

from steelthread_contracts import Decision
from steelthread_contracts.decision import decide
from steelthread_contracts.package import Task
from steelthread_contracts.usecase import load, load_hook, registered
from steelthread_usecase_delivery import PROMISE, USE_CASE
from steelthread_usecase_delivery.domain import ORDER_FEATURES


def test_the_use_case_is_registered_under_its_name_and_loads() -> None:
    assert "delivery" in registered()
    declared = load("delivery")
    assert declared is USE_CASE
    assert declared.task is Task.REGRESSION
    assert declared.join_key == "restaurant_id"
    assert declared.on_demand.features == ORDER_FEATURES
    assert len(set(declared.feature_names)) == len(declared.feature_names) == 24


def test_hooks_and_generator_load_and_follow_the_protocol() -> None:
    frame, row = load_hook(USE_CASE.on_demand.frame), load_hook(USE_CASE.on_demand.row)
    assert frame.__name__ == "order_features"
    assert row.__name__ == "order_row"
    generator = importlib.import_module(USE_CASE.generator)
    for name in ("generate", "write", "read", "TABLES", "DEFAULT_END", "DEFAULT_DAYS", "SCHEMAS"):
        assert hasattr(generator, name), name
    assert set(generator.TABLES) == set(USE_CASE.tables_to_generate)
    assert set(USE_CASE.scenarios) == {s.value for s in generator.Scenario}
    for view in USE_CASE.views:
        assert set(view.columns) <= set(generator.SCHEMAS[view.table].names), view.name
    events = set(generator.SCHEMAS[USE_CASE.tables.events].names)
    assert {USE_CASE.join_key, USE_CASE.tables.event_time, *USE_CASE.request_names} <= events
    labels = set(generator.SCHEMAS[USE_CASE.tables.labels].names)
    assert {USE_CASE.tables.request_id, USE_CASE.tables.label, USE_CASE.tables.label_time} <= labels


def test_every_scenario_names_the_columns_it_may_change() -> None:
    from steelthread_usecase_delivery.generator import SCENARIO_COLUMNS

    stored = {c for v in USE_CASE.views for c in v.features}
    touched = {c for tables in SCENARIO_COLUMNS.values() for columns in tables.values() for c in columns}
    assert touched & stored, "at least one scenario drifts a stored feature, not only request fields"
    assert USE_CASE.tables.label in touched


def test_smoke_cases_give_every_raw_input_a_valid_value() -> None:
    stored = [c for v in USE_CASE.views for c in (*v.served, *v.strings)]
    for case in USE_CASE.smoke_cases:
        assert set(case.inputs) == {*stored, *USE_CASE.request_names}, case.name
        for name in USE_CASE.request_names:
            field = USE_CASE.request_field(name)
            assert field.accepts(case.inputs[name]), (case.name, name, field.rule())
        low, high = case.bounds
        assert USE_CASE.score_range[0] <= low < high <= USE_CASE.score_range[1], case.name
    names = [c.name for c in USE_CASE.smoke_cases]
    assert set(USE_CASE.smoke_ordering) <= set(names)
    assert USE_CASE.smoke_ordering == ("quick", "typical", "slow")


def test_request_field_examples_are_valid() -> None:
    for field in USE_CASE.request_fields:
        assert field.accepts(field.example), (field.name, field.rule())
    assert USE_CASE.request_field("vehicle").enum_name == "Vehicle"
    assert USE_CASE.request_field("vehicle").storage == "string"
    assert USE_CASE.request_field("item_count").storage == "int64"


@pytest.mark.parametrize(
    ("minutes", "decision"),
    [
        (12.0, Decision.APPROVE),
        (44.99, Decision.APPROVE),
        (45.0, Decision.REVIEW),
        (59.9, Decision.REVIEW),
        (60.0, Decision.DECLINE),
        (200.0, Decision.DECLINE),
        (None, Decision.REVIEW),
        (float("nan"), Decision.REVIEW),
    ],
)
def test_the_policy_promises_under_45_minutes_and_fails_closed(minutes, decision) -> None:
    assert USE_CASE.policy.cuts == PROMISE
    assert decide(minutes, USE_CASE.policy.cuts, USE_CASE.policy) is decision


def test_the_texts_say_what_the_decisions_mean() -> None:
    texts = USE_CASE.texts
    assert texts.score_field == "expected_minutes"
    for words in ("approve", "review", "decline", "45", "60"):
        assert words in texts.api_description


def test_fairness_is_off_and_slices_are_known_columns() -> None:
    assert USE_CASE.protected_attribute is None
    assert set(USE_CASE.stored_slices) == {"city", "city_zone"}
    assert set(USE_CASE.slices) <= {*USE_CASE.stored_slices, *USE_CASE.request_names}


def test_training_config_has_a_range_for_every_feature_and_regression_sections() -> None:
    config = yaml.safe_load(USE_CASE.training_config.read_text())
    assert config["lightgbm"]["objective"] == "regression"
    assert config["gate"]["regression"]["max_mae"] > 0
    assert set(config["validation"]["ranges"]) == set(USE_CASE.feature_names)
    for name, (low, high) in config["validation"]["ranges"].items():
        assert low < high, name
    assert config["validation"]["label_range"] == list(USE_CASE.score_range)
    assert config["baseline"]["features"] is None
    assert set(config["slices"]["columns"]) == set(USE_CASE.slices)
    assert "threshold" not in config, "a regression package has no thresholds: the policy's cuts decide"
