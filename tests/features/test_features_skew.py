"""Skew: the online vector after materialising up to time T equals the training frame at T, exactly."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from steelthread_contracts import PredictionRequest
from steelthread_features import store
from steelthread_features.definitions import EVENT_TIMESTAMP, FEATURE_NAMES, JOIN_KEY, SLICE_COLUMNS, USE_CASE

SHORTEST = min(USE_CASE.views, key=lambda view: view.ttl)


@pytest.fixture(scope="module")
def materialized(world):
    at = world.data.end - timedelta(hours=1)
    store.materialize(at, settings=world.settings)
    return at


def requests_at(world, make_requests, n: int) -> pd.DataFrame:
    """Requests for `n` of the store's entities (all of them where the use case's world has fewer: the
    delivery example has tens of orders per restaurant, so fewer entities for the same events)."""
    ids = world.entity_ids()
    entities = pd.Series(ids).sample(n=min(n, len(ids)), random_state=5).tolist()
    return pd.DataFrame(make_requests(entities))


@pytest.mark.parametrize("engine", ["direct", "feast", "feast_odfv"])
def test_online_vector_equals_training_frame_at_t(world, materialized, make_requests, engine) -> None:
    at = materialized
    requests = requests_at(world, make_requests, 60)
    entities = requests.assign(**{EVENT_TIMESTAMP: pd.Timestamp(at)})
    offline = store.training_frame(entities, settings=world.settings)
    online = store.online_vector(
        [PredictionRequest(**row) for row in requests.to_dict("records")],
        settings=world.settings,
        as_of=at,
        engine=engine,
    )
    assert len(online) == len(offline)
    present = 0
    for i, vector in enumerate(online):
        assert list(vector.values) == list(FEATURE_NAMES)
        for name in FEATURE_NAMES:
            off = offline.at[i, name]
            on = vector.values[name]
            if np.isnan(off):
                assert on is None, f"row {i} {name}: offline missing, online {on}"
                assert name in vector.missing
            else:
                assert on == off, f"row {i} {name}: offline {off!r} != online {on!r}"
                present += 1
        assert np.array_equal(
            vector.as_array(),
            offline.loc[i, list(FEATURE_NAMES)].to_numpy(np.float32),
            equal_nan=True,
        )
    # Most values are present, so equality is not just None == NaN.
    assert present > 0.9 * len(online) * len(FEATURE_NAMES)


def test_unknown_entity_is_explicitly_missing(world, materialized, make_requests) -> None:
    [vector] = store.online_vector(make_requests([987_654_321]), settings=world.settings, as_of=materialized)
    stored = {f for view in USE_CASE.views for f in view.served}
    needs_stored = stored | set(USE_CASE.on_demand.freshness)
    request_only = [f for f in USE_CASE.on_demand.features if f not in needs_stored]
    assert request_only, "the use case has request-only features: they must survive an unknown entity"
    for name in FEATURE_NAMES:
        assert (vector.values[name] is None) is (name in needs_stored), name
        assert (name in vector.missing) is (name in needs_stored), name
    first = FEATURE_NAMES[0]
    assert np.isnan(vector.as_array()[list(FEATURE_NAMES).index(first)])


def test_expired_online_values_are_missing(world, materialized, make_requests) -> None:
    entity = int(world.data.table(USE_CASE.tables.events)[JOIN_KEY].iloc[0])
    requests = make_requests([entity])
    [fresh] = store.online_vector(requests, settings=world.settings, as_of=materialized)
    assert fresh.values[SHORTEST.served[0]] is not None
    [stale] = store.online_vector(
        requests, settings=world.settings, as_of=materialized + SHORTEST.ttl + timedelta(days=110)
    )
    assert set(SHORTEST.served) <= set(stale.missing)
    expired_with = [f for f, view in USE_CASE.on_demand.freshness.items() if view == SHORTEST.name]
    assert set(expired_with) <= set(stale.missing)
    longer = [
        f for view in USE_CASE.views if view.ttl > SHORTEST.ttl + timedelta(days=110) for f in view.served
    ]
    assert longer
    assert all(stale.values[f] == fresh.values[f] for f in longer)


def test_slice_attributes_are_served_separately(world, materialized) -> None:
    entity = world.entity_ids()[0]
    frame = store.slice_attributes([entity], settings=world.settings)
    view = USE_CASE.view_of(SLICE_COLUMNS[0])
    stored = world.stored(view.table).sort_values(EVENT_TIMESTAMP).groupby(JOIN_KEY).last().loc[entity]
    for column in SLICE_COLUMNS:
        assert frame.loc[0, column] == stored[column]
        assert column not in FEATURE_NAMES
