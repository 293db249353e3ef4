"""A small generated world applied to a local Feast store, for tests that need real online features."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from steelthread_contracts import PredictionRequest
from steelthread_features import store
from steelthread_features.settings import FeatureSettings
from steelthread_usecase_credit.generator import GeneratedData, generate, write


@dataclass(frozen=True)
class FeatureWorld:
    root: Path
    """A serving `data_dir`: parquet under root/data, the Feast repo under root/feast."""
    data: GeneratedData
    settings: FeatureSettings

    def requests(self, n: int) -> list[PredictionRequest]:
        apps: pd.DataFrame = self.data.applications.drop_duplicates("customer_id").head(n)
        return [
            PredictionRequest(
                customer_id=int(r.customer_id),
                loan_amount=float(r.loan_amount),
                term_months=int(r.term_months),
                purpose=r.purpose,
                declared_income=float(r.declared_income),
            )
            for r in apps.itertuples()
        ]


def build_world(root: Path, rows: int = 300, seed: int = 1) -> FeatureWorld:
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    data = generate(rows, seed=seed, end=end)
    write(data, root / "data")
    settings = FeatureSettings(data_dir=root / "data", feast_dir=root / "feast")
    store.apply(settings)
    store.materialize(datetime.now(UTC), settings=settings)
    return FeatureWorld(root=root, data=data, settings=settings)
