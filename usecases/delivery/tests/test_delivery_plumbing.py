"""The existing features plumbing runs the delivery use case end to end, selected by STEELTHREAD_USECASE alone.

The plumbing reads the active use case when it is imported, so everything runs in child processes whose
environment names `delivery`: `steelthread-data generate`, `steelthread-features apply` and
`materialize` into a temporary STEELTHREAD_DATA_DIR, then a short script that asks
`steelthread_features.store.training_frame` and `steelthread_features.online.online_vectors` for features
and writes what it got. This process checks it against the generator's tables with pandas alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from steelthread_contracts.asof import feature_frame
from steelthread_usecase_delivery import USE_CASE
from steelthread_usecase_delivery.domain import ORDER_FEATURES
from steelthread_usecase_delivery.generator import DEFAULT_END, GeneratedData, generate
from steelthread_usecase_delivery.transforms import order_row

pytestmark = pytest.mark.slow

ROWS = 1_500
SEED = 4
UNKNOWN = 10**9
BIN = Path(sys.executable).parent

_CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    from steelthread_features import store
    from steelthread_features.definitions import JOIN_KEY, USE_CASE
    from steelthread_features.generator import DEFAULT_END, read
    from steelthread_features.online import online_vectors
    from steelthread_features.settings import FeatureSettings

    out = Path(sys.argv[1])
    settings = FeatureSettings()
    orders = read(settings.tables_dir, USE_CASE.tables.events)
    tail = orders.tail(1).to_dict("records")[0]  # plain Python values
    request = {name: tail[name] for name in (JOIN_KEY, *USE_CASE.request_names)}
    vectors = online_vectors([request, request | {JOIN_KEY: int(sys.argv[2])}], settings=settings,
                             as_of=DEFAULT_END)
    (out / "online.json").write_text(json.dumps(
        {"request": request, "vectors": [{"values": v.values, "missing": v.missing} for v in vectors]}
    ))
    entity = orders.rename(columns={USE_CASE.tables.event_time: USE_CASE.tables.event_timestamp})
    store.training_frame(entity, settings=settings, with_slices=True).to_parquet(out / "frame.parquet")
    """
)


@dataclass(frozen=True)
class Run:
    data: GeneratedData
    out: Path
    outputs: dict[str, str]
    child: subprocess.CompletedProcess[str]


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")}
    return env | {
        "STEELTHREAD_USECASE": "delivery",
        "STEELTHREAD_DATA_DIR": str(root / "var"),
        "STEELTHREAD_PROFILE": "local",
    }


def _run(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("delivery")
    env = _env(root)
    outputs = {
        "generate": _run(
            [str(BIN / "steelthread-data"), "generate", "--rows", str(ROWS), "--seed", str(SEED)], env
        ),
        "apply": _run([str(BIN / "steelthread-features"), "apply"], env),
        "materialize": _run(
            [str(BIN / "steelthread-features"), "materialize", "--end", DEFAULT_END.isoformat()], env
        ),
    }
    out = root / "out"
    out.mkdir()
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(out), str(UNKNOWN)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return Run(data=generate(ROWS, seed=SEED), out=out, outputs=outputs, child=child)


def test_the_clis_generate_apply_and_materialize_the_delivery_tables(run: Run) -> None:
    assert f"{ROWS:,} events" in run.outputs["generate"]
    data_dir = Path(run.outputs["generate"].split("orders: ")[1].split()[0]).parent.parent
    for table in USE_CASE.tables_to_generate:
        assert (data_dir / table / f"{table}.parquet").is_file(), table
    assert USE_CASE.feature_service in run.outputs["apply"]
    assert USE_CASE.on_demand.name in run.outputs["apply"]
    for view in USE_CASE.views:
        assert f"materialized {view.name}" in run.outputs["materialize"]


def test_online_vectors_serve_a_known_restaurant_and_mark_an_unknown_one_missing(run: Run) -> None:
    assert (run.out / "online.json").is_file(), run.child.stderr
    online = json.loads((run.out / "online.json").read_text())
    request = online["request"]
    known, unknown = online["vectors"]
    assert list(known["values"]) == list(USE_CASE.feature_names)
    assert known["missing"] == []

    key = request[USE_CASE.join_key]
    profile = run.data.restaurants.set_index(USE_CASE.join_key).loc[key]
    stats = run.data.restaurant_stats
    latest = stats[stats[USE_CASE.join_key] == key].sort_values("event_timestamp").iloc[-1]
    for name in USE_CASE.view("restaurant_profile").features:
        assert known["values"][name] == profile[name], name
    for name in USE_CASE.view("restaurant_performance").features:
        assert known["values"][name] == latest[name], name
    expected = order_row(
        **{n: request[n] for n in USE_CASE.request_names},
        cuisine=profile["cuisine"],
        prep_minutes_p50=profile["prep_minutes_p50"],
    )
    got = [known["values"][name] for name in ORDER_FEATURES]
    assert got == expected, "the online transform is the row form, bit for bit"

    stored = {f for v in USE_CASE.views for f in v.features}
    assert set(unknown["missing"]) == stored | {"prep_plus_ride"} | {
        f for f in ORDER_FEATURES if "cuisine" in f
    }
    assert unknown["values"]["ride_minutes"] == known["values"]["ride_minutes"]


def test_training_frame_is_point_in_time_correct_with_the_declared_columns(run: Run) -> None:
    assert (run.out / "frame.parquet").is_file(), run.child.stderr[-2_000:]
    frame = pd.read_parquet(run.out / "frame.parquet")
    entity_columns = [
        USE_CASE.tables.event_timestamp if c == USE_CASE.tables.event_time else c
        for c in run.data.orders.columns
    ]
    assert list(frame.columns) == [*entity_columns, *USE_CASE.feature_names, *USE_CASE.stored_slices]
    assert frame[USE_CASE.tables.request_id].tolist() == run.data.orders[USE_CASE.tables.request_id].tolist()

    expected = feature_frame(USE_CASE, run.data)
    for name in (*USE_CASE.feature_names, *USE_CASE.stored_slices):
        pd.testing.assert_series_equal(
            frame[name].reset_index(drop=True),
            expected[name].reset_index(drop=True),
            check_dtype=False,
            check_exact=True,
            obj=name,
        )

    # The check above could see a leak: for most orders, the restaurant's newest statistics (as of the end
    # of the data) differ from those at the order's time.
    stats = run.data.restaurant_stats.sort_values("event_timestamp").groupby(USE_CASE.join_key).last()
    newest = run.data.orders[USE_CASE.join_key].map(stats["courier_wait_minutes_7d"]).to_numpy()
    assert np.mean(newest != frame["courier_wait_minutes_7d"].to_numpy()) > 0.5


def test_the_on_demand_view_reads_both_stored_inputs_of_one_view(tmp_path: Path) -> None:
    """Two stored inputs from the same view (cuisine, prep_minutes_p50) are one projection: Feast keys an
    on-demand view's sources by view name, so two projections of one view kept only the last (apply then
    failed with KeyError 'cuisine')."""
    from steelthread_features.feature_repo import build_objects
    from steelthread_features.settings import FeatureSettings

    objects = build_objects(FeatureSettings(tables_dir=tmp_path, feast_dir=tmp_path), use_case=USE_CASE)
    [view] = [o for o in objects if o.name == USE_CASE.on_demand.name]
    projections = {
        name: [f.name for f in projection.features]
        for name, projection in view.source_feature_view_projections.items()
    }
    assert projections == {"restaurant_profile": ["cuisine", "prep_minutes_p50"]}
