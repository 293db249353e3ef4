"""A small generated world applied to a local Feast store, for tests that need real online features."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.usecase import JOIN_KEY, REQUEST_NAMES, USE_CASE
from steelthread_contracts import PredictionRequest
from steelthread_features import store
from steelthread_features.generator import generate, write
from steelthread_features.settings import FeatureSettings


@dataclass(frozen=True)
class FeatureWorld:
    root: Path
    """A serving `data_dir`: parquet under root/data, the Feast repo under root/feast."""
    data: Any
    """The active use case's generated tables (`data.table(name)`)."""
    settings: FeatureSettings

    def events(self) -> pd.DataFrame:
        """The decision requests the generator wrote (one row per request, the entity key included)."""
        frame: pd.DataFrame = self.data.table(USE_CASE.tables.events)
        return frame

    def requests(self, n: int) -> list[PredictionRequest]:
        """Valid requests for `n` distinct entities the store knows, as their events were made."""
        events = self.events().drop_duplicates(JOIN_KEY).head(n)
        assert len(events) == n, f"the world has {len(events)} entities, not {n}: build it with more"
        return [
            PredictionRequest.model_validate(
                {JOIN_KEY: int(row[JOIN_KEY])} | {name: _plain(row[name]) for name in REQUEST_NAMES}
            )
            for row in events.to_dict("records")
        ]

    def matrix(self, requests: list[Any], names: tuple[str, ...] | list[str]) -> Any:
        """The float32 rows serving builds for `requests` from this world's online store now (NaN for
        missing): every model feature, those the use case keeps out of answers and logs included, so a
        test can score what serving scored without reading it back from an answer."""
        import numpy as np

        vectors = store.online_vector(requests, settings=self.settings)
        return np.array(
            [[np.nan if (v := vec.values[n]) is None else v for n in names] for vec in vectors],
            dtype=np.float32,
        )

    def keys(self, n: int) -> list[int]:
        return [int(k) for k in self.events()[JOIN_KEY].drop_duplicates().head(n)]


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value the API's strict models accept (an integer stays an int)."""
    return value.item() if hasattr(value, "item") else value


def build_world(root: Path, rows: int = 300, seed: int = 1, entities: int = 100) -> FeatureWorld:
    """Generate, write, apply and materialise a world with at least `rows` requests and `entities`
    distinct entities (a use case with many requests per entity gets more rows, so that tests can ask
    for that many different keys)."""
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    data = generate(rows, seed=seed, end=end)
    found = data.table(USE_CASE.tables.events)[JOIN_KEY].nunique()
    if found < entities:
        data = generate(math.ceil(rows * entities * 1.1 / found), seed=seed, end=end)
    write(data, root / "data")
    settings = FeatureSettings(tables_dir=root / "data", feast_dir=root / "feast")
    store.apply(settings)
    store.materialize(datetime.now(UTC), settings=settings)
    return FeatureWorld(root=root, data=data, settings=settings)
