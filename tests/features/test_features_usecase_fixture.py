"""The feature plumbing on a use case that is not credit: the multiclass fixture
(tests/fixtures/usecases/multiclass_fixture.py), whose names share nothing with credit's.

The plumbing reads the active use case at import, so the end-to-end run happens in subprocesses with
STEELTHREAD_USECASE naming the fixture: `steelthread-data generate` -> `steelthread-features apply` ->
`materialize` -> `store.training_frame` (columns as declared, point in time correct against an independent
merge_asof reference) -> `online.online_vectors` for known entities (equal to the training frame at the
materialisation time, and to Feast's own online read).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures.usecases import multiclass_fixture, multiclass_fixture_generator, multiclass_fixture_transforms

from steelthread_contracts import usecase
from steelthread_contracts.package import Task

TESTS = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FIXTURE = usecase.load(multiclass_fixture.IMPORT_PATH)
AT = multiclass_fixture_generator.DEFAULT_END - timedelta(hours=1)
"""Materialisation time, and the time of the online requests."""


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")}
    return env | {
        "STEELTHREAD_USECASE": multiclass_fixture.IMPORT_PATH,
        "PYTHONPATH": os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p),
        "STEELTHREAD_DATA_DIR": str(root),
        "STEELTHREAD_PROFILE": "local",
        "COLUMNS": "200",
    }


def _run(root: Path, *args: str) -> str:
    result = subprocess.run(
        args, capture_output=True, text=True, env=_env(root), timeout=300, check=False, cwd=root
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


# Run in the subprocess, with the fixture active: every name below comes from the declaration, except the
# reference's own transform, which is imported from the fixture directly.
CHECK = textwrap.dedent(
    """
    import json, sys
    from datetime import datetime
    import numpy as np, pandas as pd
    from steelthread_features import definitions, generator, online, store
    from steelthread_features.settings import FeatureSettings
    from steelthread_features.validation import (
        INTEGER_REQUEST, NUMERIC_REQUEST, STRING_REQUEST, FeatureInputError, entity_frame,
    )
    from fixtures.usecases.multiclass_fixture_transforms import ticket_features

    uc = definitions.USE_CASE
    at = pd.Timestamp(sys.argv[1])
    settings = FeatureSettings()
    data = settings.tables_dir
    key, ts = definitions.JOIN_KEY, definitions.EVENT_TIMESTAMP
    out = {"use_case": uc.name, "project": settings.project, "join_key": key,
           "kinds": [list(NUMERIC_REQUEST), list(INTEGER_REQUEST), list(STRING_REQUEST)]}

    labels = generator.read(data, uc.tables.labels)
    events = entity_frame(generator.read(data, uc.tables.events)).merge(labels, on=uc.tables.request_id)
    # Traps: the same requests long before any stored row, and after the shortest TTL has run out.
    shortest = min(v.ttl for v in uc.views)
    early = events.head(20).assign(**{ts: events[ts].min() - pd.Timedelta(days=5000)})
    late = events.head(20).assign(**{ts: events[ts].max() + shortest + pd.Timedelta(days=20)})
    events = pd.concat([events, early, late], ignore_index=True)
    events[ts] = events[ts].astype("datetime64[us, UTC]")
    got = store.training_frame(events, settings=settings, with_slices=True)
    expiring = [f for v in uc.views if v.ttl == shortest for f in v.served]
    out["traps"] = [
        bool(got.iloc[-40:-20][list(definitions.FEATURE_NAMES[: len(uc.views[0].served)])].isna().all().all()),
        bool(got.iloc[-20:][expiring].isna().all().all()),
        bool(got.iloc[-20:][list(uc.views[0].served)].notna().all().all()),
    ]
    out["columns"] = list(got.columns)
    out["rows"] = [len(events), len(got)]
    out["labels"] = sorted(set(got[uc.tables.label]))

    def asof(entities, table, columns, ttl):
        left = entities[[key, ts]].assign(rid=np.arange(len(entities))).sort_values(ts, kind="stable")
        right = table.sort_values([ts, "created_timestamp"], kind="stable").rename(columns={ts: "fts"})
        merged = pd.merge_asof(left, right[[key, "fts", *columns]], left_on=ts, right_on="fts", by=key)
        stale = merged["fts"].isna() | (merged[ts] - merged["fts"] > ttl)
        merged.loc[stale, columns] = None
        return merged.sort_values("rid").reset_index(drop=True)[list(columns)]

    def reference(entities):
        parts = [entities.reset_index(drop=True)]
        for view in uc.views:
            parts.append(asof(entities, generator.read(data, view.table), list(view.columns), view.ttl))
        inputs = pd.concat(parts, axis=1)
        return pd.concat([inputs, ticket_features(inputs)], axis=1)

    want = reference(events)
    out["pit_mismatches"] = [
        name for name in definitions.FEATURE_NAMES
        if not np.array_equal(got[name].to_numpy(float), want[name].to_numpy(float), equal_nan=True)
    ] + [name for name in definitions.SLICE_COLUMNS if got[name].tolist() != want[name].where(want[name].notna(), None).tolist()]
    out["present"] = float(got[list(definitions.FEATURE_NAMES)].notna().to_numpy().mean())

    accounts = sorted(int(k) for k in generator.read(data, uc.views[0].table)[key].unique())
    rng = np.random.default_rng(0)
    requests = [
        {key: k, "message_chars": int(rng.integers(1, 5000)), "channel": ("email", "chat", "phone")[i % 3],
         "sentiment": float(rng.uniform(-1, 1))}
        for i, k in enumerate([*accounts, 999_999_999])
    ]
    vectors = online.online_vectors(requests, settings=settings, as_of=at.to_pydatetime())
    offline = store.training_frame(pd.DataFrame(requests).assign(**{ts: at}), settings=settings)
    diffs = []
    for i, vector in enumerate(vectors):
        assert vector.entity_id == requests[i][key]
        for name in definitions.FEATURE_NAMES:
            off, on = offline.at[i, name], vector.values[name]
            if (on is None) != bool(np.isnan(off)) or (on is not None and on != off):
                diffs.append([i, name, on, None if np.isnan(off) else off])
    out["online_diffs"] = diffs[:10]
    out["online_complete"] = sum(not v.missing for v in vectors)
    out["unknown_missing"] = list(vectors[-1].missing)
    out["order"] = [list(vectors[0].values) == list(definitions.FEATURE_NAMES)]
    feast = store.online_vector(requests, settings=settings, as_of=at.to_pydatetime(), engine="feast")
    out["feast_equal"] = feast == vectors

    errors = {}
    good = events.head(2)[[key, ts, *uc.request_names]]
    for column, bad in (("message_chars", [1.5, 2.5]), ("channel", [1, 2]), ("sentiment", ["a", "b"])):
        try:
            store.training_frame(good.assign(**{column: bad}), settings=settings)
        except FeatureInputError as exc:
            errors[column] = exc.column
    try:
        entity_frame(events.drop(columns=[ts]))
    except FeatureInputError as exc:
        errors["event_time"] = exc.column
    out["errors"] = errors
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("multiclass")
    generated = _run(root, str(BIN / "steelthread-data"), "generate", "--rows", "400", "--seed", "3")
    for table in FIXTURE.tables_to_generate:
        assert (root / "data" / table / f"{table}.parquet").exists(), generated
    applied = _run(root, str(BIN / "steelthread-features"), "apply")
    assert FIXTURE.feature_service in applied
    assert "profile 'local'" in applied
    materialized = _run(root, str(BIN / "steelthread-features"), "materialize", "--end", AT.isoformat())
    for view in FIXTURE.views:
        assert f"materialized {view.name}" in materialized
    names = _run(root, str(BIN / "steelthread-features"), "names").splitlines()
    assert names == [f"# {FIXTURE.feature_service}", *FIXTURE.feature_names]
    result: dict[str, object] = json.loads(
        _run(root, sys.executable, "-c", CHECK, AT.isoformat()).strip().splitlines()[-1]
    )
    result["root"] = str(root)
    return result


@pytest.mark.slow
def test_the_plumbing_reads_every_name_from_the_fixture(run) -> None:
    assert run["use_case"] == FIXTURE.name
    assert run["project"] == FIXTURE.project
    assert run["join_key"] == FIXTURE.join_key
    assert run["kinds"] == [["sentiment"], ["message_chars"], ["channel"]]
    tables = Path(run["root"]) / "feast" / "online_store.db"
    assert tables.exists()


@pytest.mark.slow
def test_training_frame_has_the_declared_columns_point_in_time_correct(run) -> None:
    events = [*FIXTURE.request_names]
    columns = run["columns"]
    assert columns[-len(FIXTURE.feature_names) - len(FIXTURE.stored_slices) :] == [
        *FIXTURE.feature_names,
        *FIXTURE.stored_slices,
    ]
    assert {FIXTURE.join_key, "event_timestamp", FIXTURE.tables.label, *events} <= set(columns)
    assert FIXTURE.tables.event_time not in columns
    assert run["rows"][0] == run["rows"][1] == 440
    assert run["labels"] == sorted(FIXTURE.classes)
    assert run["pit_mismatches"] == []
    assert run["traps"] == [True, True, True]  # nothing before it existed, expired after its TTL
    assert 0.8 < run["present"] < 1.0


@pytest.mark.slow
def test_online_vectors_equal_the_training_frame_for_known_entities(run) -> None:
    assert run["online_diffs"] == []
    assert run["order"] == [True]
    assert run["online_complete"] > 50
    assert set(run["unknown_missing"]) >= {
        *(f for view in FIXTURE.views for f in view.served),
        *FIXTURE.on_demand.freshness,
    }
    assert run["feast_equal"] is True


@pytest.mark.slow
def test_entity_frame_checks_follow_the_declared_field_types(run) -> None:
    assert run["errors"] == {
        "message_chars": "message_chars",
        "channel": "channel",
        "sentiment": "sentiment",
        "event_time": FIXTURE.tables.event_time,
    }


# --- The fixture itself (in-process: no plumbing module is imported with it active) ---------------------


def test_the_fixture_is_a_complete_multiclass_declaration() -> None:
    assert FIXTURE.task is Task.MULTICLASS
    assert FIXTURE.classes == ("billing", "technical", "sales")
    assert FIXTURE.tables_to_generate == multiclass_fixture_generator.TABLES
    assert set(multiclass_fixture_generator.SCHEMAS) == set(FIXTURE.tables_to_generate)
    assert {f.storage for f in FIXTURE.request_fields} == {"int64", "string", "float64"}
    assert set(FIXTURE.scenarios) == set(multiclass_fixture_generator.SCENARIO_COLUMNS)
    assert usecase.load_hook(FIXTURE.on_demand.row) is multiclass_fixture_transforms.ticket_row
    for case in FIXTURE.smoke_cases:
        assert set(case.inputs) == {
            *FIXTURE.request_names,
            *(c for v in FIXTURE.views for c in (*v.features, *v.strings)),
        }
    schema = multiclass_fixture_generator.SCHEMAS[FIXTURE.tables.labels]
    assert schema.field(FIXTURE.tables.label).type == "string"  # a class name, not a number


def test_the_fixture_generator_is_deterministic(tmp_path) -> None:
    gen = multiclass_fixture_generator
    a, b = (
        gen.write(gen.generate(300, seed=4), tmp_path / "a"),
        gen.write(gen.generate(300, seed=4), tmp_path / "b"),
    )
    assert [a[t].read_bytes() for t in gen.TABLES] == [b[t].read_bytes() for t in gen.TABLES]
    base, drift = gen.generate(300, seed=4), gen.generate(300, seed=4, scenario="channel_shift")
    late = (base.tickets["opened_at"] >= base.drift_start).to_numpy()
    changed = (base.tickets["channel"] != drift.tickets["channel"]).to_numpy()
    assert changed.any()
    assert not changed[~late].any()
    assert set(gen.read(tmp_path / "a", FIXTURE.tables.labels)[FIXTURE.tables.label]) == set(FIXTURE.classes)


def test_the_fixture_transform_forms_are_bit_identical() -> None:
    rng = np.random.default_rng(1)
    n = 300
    rows = pd.DataFrame(
        {
            "message_chars": rng.integers(1, 20_000, n),
            "channel": rng.choice(["email", "chat", "phone", "fax"], n),
            "sentiment": rng.uniform(-1, 1, n),
            "plan": rng.choice(np.array(["basic", "pro", "enterprise", None], dtype=object), n),
            "tickets_30d": np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 30, n)),
        }
    )
    frame = multiclass_fixture_transforms.ticket_features(rows)
    assert list(frame.columns) == list(FIXTURE.on_demand.features)
    for i, row in enumerate(rows.to_dict("records")):
        tickets = row["tickets_30d"]
        row["tickets_30d"] = None if tickets != tickets else tickets
        alone = np.array(multiclass_fixture_transforms.ticket_row(**row), dtype=np.float64)
        assert np.array_equal(alone, frame.to_numpy()[i], equal_nan=True), row
