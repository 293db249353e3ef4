"""Training takes every domain name from the active use case's declaration, never from its own code."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel

from steelthread_contracts.usecase import active
from steelthread_training import frame as frame_module
from steelthread_training.candidate import NO_CHAMPION
from steelthread_training.config import (
    GateConfig,
    SliceConfig,
    TrainingConfig,
    default_model_name,
    load_config,
)
from steelthread_training.evaluation import evaluate
from steelthread_training.gate import NOT_APPLICABLE, run_gate
from steelthread_training.settings import DEFAULT_MODEL_NAME, TrainingSettings

SOURCE = Path(frame_module.__file__).parent
CREDIT_WORDS = (
    "applications",
    "credit_history",
    "customers",
    "defaulted",
    "application_timestamp",
    "income_band",
    "protected_group",
    "purpose",
    "region",
    "customer_id",
    "credit-risk",
    "declared_income",
)


def _strings(path: Path) -> list[tuple[int, str]]:
    """String constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_no_training_module_names_a_credit_table_column_or_model() -> None:
    found = [
        f"{path.name}:{line}: {value!r}"
        for path in sorted(SOURCE.glob("*.py"))
        for line, value in _strings(path)
        if any(word in value for word in CREDIT_WORDS)
    ]
    assert found == []


def test_frame_names_come_from_the_declaration() -> None:
    """Every name of the training frame is the active use case's (the credit example's own values:
    usecases/credit/tests/test_credit_training.py)."""
    use_case = active()
    protected = use_case.protected_attribute
    assert protected == frame_module.PROTECTED
    slices = [*use_case.slices, *([protected] if protected and protected not in use_case.slices else [])]
    assert list(frame_module.SLICE_COLUMNS) == slices
    assert (
        frame_module.FrameSpec(
            task=use_case.task, features=use_case.feature_names, slices=tuple(slices), protected=protected
        )
        == frame_module.SPEC
    )
    assert use_case.tables.event_timestamp == frame_module.TIME
    assert use_case.tables.request_id == frame_module.REQUEST_ID
    assert use_case.feature_names == frame_module.MODEL_FEATURES
    assert frame_module.TASK is use_case.task


def test_generic_defaults_and_the_use_cases_yaml() -> None:
    """TrainingConfig's defaults name no use case; the active use case's training.yaml is what load_config
    reads by default (the credit and delivery values: each example's own tests)."""
    generic = TrainingConfig()
    assert generic.baseline.features is None  # every feature
    assert generic.slices.columns == active().slices
    assert generic.slices.options == {}
    assert load_config() == load_config(active().training_config)
    assert set(load_config().slices.columns) <= set(active().slices)


def test_the_registered_name_comes_from_the_yaml_and_defaults_to_the_use_case_name(tmp_path: Path) -> None:
    declared = load_config().registry.model_name
    assert (declared or f"{active().name}-lgbm") == DEFAULT_MODEL_NAME
    settings = TrainingSettings()
    assert (settings.model_name, settings.experiment_name) == (DEFAULT_MODEL_NAME, DEFAULT_MODEL_NAME)
    plain = tmp_path / "training.yaml"
    plain.write_text("split:\n  train: 0.5\n")
    assert default_model_name(plain) == f"{active().name}-lgbm"
    plain.write_text("registry:\n  model_name: churn\n")
    assert default_model_name(plain) == "churn"


def test_fairness_is_not_applicable_without_a_protected_attribute() -> None:
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"grp": rng.choice(["a", "b"], n), "protected_group": rng.choice(["x", "y"], n)})
    gate = GateConfig()  # the binary floors, whatever the active use case's task
    y = rng.integers(0, 2, n)
    p = np.clip(y * 0.6 + rng.uniform(0, 0.4, n), 0, 1)
    slices = SliceConfig(columns=("grp",), min_rows=50)
    none = evaluate("m", frame, y, p, 0.5, slices, protected=None)
    base = evaluate("b", frame, y, rng.uniform(size=n), 0.5, slices, protected=None)
    assert none.fairness is None
    assert none.protected is None
    verdict = run_gate(none, base, NO_CHAMPION, gate)
    assert not [c for c in verdict.checks if c.name.startswith("fairness")]
    assert NOT_APPLICABLE in verdict.notes
    assert verdict.passed, verdict.failed
    # Declared but absent from the frame: fail closed, as before.
    absent = evaluate("m", frame.drop(columns=["protected_group"]), y, p, 0.5, slices, "protected_group")
    refused = run_gate(absent, base, NO_CHAMPION, gate)
    assert "fairness.approval_ratio" in {c.name for c in refused.failed}


@pytest.mark.parametrize("words", [CREDIT_WORDS])
def test_the_word_list_would_catch_a_literal(words: tuple[str, ...], tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('"""Docstrings may say applications."""\nTABLE = "applications"\n')
    assert [v for _, v in _strings(module) if any(w in v for w in words)] == ["applications"]


def _config_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _config_keys(annotation, f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def test_docs_list_every_training_yaml_key() -> None:
    """docs/training.md's schema table names every key of TrainingConfig (one schema for every task)."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "training.md"
    documented: set[str] = set()
    for line in docs.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `"):
            continue
        cell = line.split("|")[1]
        names = [n.strip().strip("`") for n in cell.split(",")]
        prefix = names[0].rpartition(".")[0]
        documented |= {names[0], *(n if "." in n else f"{prefix}.{n}" for n in names[1:])}
    missing = sorted(_config_keys(TrainingConfig) - documented)
    assert missing == [], f"docs/training.md does not document: {missing}"
