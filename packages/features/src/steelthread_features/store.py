"""The API training and batch call: point-in-time training frames and online feature vectors (serving reads
through `steelthread_features.online`, which `online_vector` uses by default).

Both go through the active use case's feature service (`definitions.FEATURE_SERVICE`), so the columns and
the transform code are the same on both paths. The FeatureStore and the resolved feature service are built
once per settings (`import feast` alone costs seconds); importing this module does not import Feast.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from steelthread_features.definitions import (
    EVENT_TIMESTAMP,
    FEATURE_NAMES,
    FEATURE_SERVICE,
    JOIN_KEY,
    SLICE_COLUMNS,
    SLICE_SERVICE,
    USE_CASE,
)
from steelthread_features.errors import FeatureRetrievalError as FeatureRetrievalError  # re-exported
from steelthread_features.feast_warnings import load_feast, quiet_feast
from steelthread_features.online import (
    ONLINE_VIEWS,
    build_vectors,
    check_requests,
    close_readers,
    online_vectors,
)
from steelthread_features.online import OnlineVector as OnlineVector  # re-exported
from steelthread_features.settings import FeatureSettings
from steelthread_features.store_config import store_config, store_yaml
from steelthread_features.validation import (
    ROW_ID,
    FeatureInputError,
    check_entity_frame,
    check_feature_names,
)

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore


@dataclass(frozen=True)
class _Handle:
    store: FeatureStore
    service: FeatureService
    slice_refs: tuple[str, ...]


def default_settings() -> FeatureSettings:
    return FeatureSettings()


_STORES: dict[FeatureSettings, FeatureStore] = {}
_STORES_LOCK = threading.Lock()


def _feast_store(settings: FeatureSettings) -> FeatureStore:
    """One FeatureStore per settings; built lazily because `import feast` takes seconds."""
    settings.offline_root()  # fail on a missing offline URI before paying for `import feast`
    with _STORES_LOCK:  # serving warms up in a background thread while requests arrive
        cached = _STORES.get(settings)
        if cached is not None:
            return cached
        load_feast()
        from feast import FeatureStore
        from feast.repo_config import RepoConfig

        settings.feast_dir.mkdir(parents=True, exist_ok=True)
        config = RepoConfig(repo_path=settings.feast_dir.resolve(), **store_config(settings))
        store = FeatureStore(repo_path=str(settings.feast_dir.resolve()), config=config)
        _STORES[settings] = store
        return store


@lru_cache(maxsize=8)
def _handle(settings: FeatureSettings) -> _Handle:
    store = _feast_store(settings)
    try:
        with quiet_feast():
            service = store.get_feature_service(FEATURE_SERVICE, allow_cache=False)
    except Exception as exc:  # Feast raises its own not-found types per registry kind
        raise FeatureRetrievalError(
            f"feature service {FEATURE_SERVICE!r} is not in the registry of profile "
            f"{settings.profile!r}; run `steelthread-features apply` first ({exc})"
        ) from exc
    return _Handle(store, service, tuple(f"{USE_CASE.view_of(c).name}:{c}" for c in SLICE_COLUMNS))


def get_store(settings: FeatureSettings | None = None) -> FeatureStore:
    """The cached FeatureStore for the settings (built on first use)."""
    return _handle(settings or default_settings()).store


def clear_cache() -> None:
    """Forget cached stores and readers and close their connections (tests, shutdown)."""
    close_readers()
    _handle.cache_clear()
    with _STORES_LOCK:
        for store in _STORES.values():
            for attribute in ("read_engine", "write_engine"):
                engine = getattr(store.registry, attribute, None)
                if engine is not None:  # SQL registry: close pooled PostgreSQL connections
                    engine.dispose()
        _STORES.clear()


def feature_names() -> list[str]:
    """The feature service's feature order (the model's), without importing Feast."""
    return list(FEATURE_NAMES)


def write_store_yaml(settings: FeatureSettings) -> None:
    """Write the generated feature_store.yaml so the plain `feast` CLI sees the same config."""
    settings.feast_dir.mkdir(parents=True, exist_ok=True)
    (settings.feast_dir / "feature_store.yaml").write_text(store_yaml(settings))


def apply(settings: FeatureSettings | None = None) -> list[str]:
    """Register every object of the repo; returns their names."""
    s = settings or default_settings()
    s.offline_root()  # fail on a missing offline URI before paying for `import feast`
    load_feast()
    from steelthread_features.feature_repo import build_objects

    write_store_yaml(s)
    store = _feast_store(s)
    objects = build_objects(s)
    with quiet_feast():
        store.apply(objects)
    _handle.cache_clear()
    return [str(o.name) for o in objects]


def materialize(
    end: datetime,
    start: datetime | None = None,
    *,
    settings: FeatureSettings | None = None,
    on_view: Callable[[str], None] | None = None,
) -> list[str]:
    """Load the online store with the latest values in [start, end] per feature view.

    Without `start`, each view's TTL before `end` is used (older rows would be expired anyway).
    """
    if end.tzinfo is None:
        raise FeatureInputError("end", "end must be timezone-aware")
    store = get_store(settings)
    names = []
    with quiet_feast():
        views = store.list_feature_views()
    for view in views:
        begin = start or (end - view.ttl if view.ttl else datetime(1970, 1, 1, tzinfo=UTC))
        with quiet_feast():
            store.materialize(begin, end, feature_views=[view.name])
        names.append(view.name)
        if on_view is not None:
            on_view(view.name)
    return names


def _service_refs(handle: _Handle) -> list[str]:
    refs: list[str] = []
    for projection in handle.service.feature_view_projections:
        view = str(projection.name_alias or projection.name)
        refs.extend(f"{view}:{f.name}" for f in projection.features)
    return refs


def training_frame(
    entity_df: pd.DataFrame,
    *,
    settings: FeatureSettings | None = None,
    with_slices: bool = False,
    features: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Point-in-time correct features for each entity row, as of its `event_timestamp`.

    `entity_df` needs the entity's join key (`JOIN_KEY`), `event_timestamp` and the use case's request
    fields (`validation.REQUIRED`); other columns (request id, labels) pass through. Returns the entity
    columns in their order, then the feature service's features in order (then the stored slice columns,
    `SLICE_COLUMNS`, with `with_slices`), one row per entity row in the same order; anything else raises.
    `features` narrows the returned feature columns (names must exist; order is kept).
    """
    known = list(FEATURE_NAMES) + (list(SLICE_COLUMNS) if with_slices else [])
    wanted = check_feature_names(features, known) if features is not None else known
    frame = check_entity_frame(entity_df)
    handle = _handle(settings or default_settings())
    refs = _service_refs(handle) + (list(handle.slice_refs) if with_slices else [])
    with quiet_feast():
        job = handle.store.get_historical_features(entity_df=frame, features=refs)
        result = job.to_df()
    if len(result) != len(frame) or ROW_ID not in result.columns:
        raise FeatureRetrievalError(
            f"point-in-time join returned {len(result)} rows for {len(frame)} entity rows"
        )
    result = result.sort_values(ROW_ID, kind="stable").reset_index(drop=True)
    if not np.array_equal(result[ROW_ID].to_numpy(), np.arange(len(frame))):
        raise FeatureRetrievalError("point-in-time join dropped or duplicated entity rows")
    columns = [c for c in frame.columns if c != ROW_ID] + wanted
    absent = [c for c in columns if c not in result.columns]
    if absent:
        raise FeatureRetrievalError(f"Feast did not return column(s): {', '.join(absent)}")
    out = result[columns].copy()
    for name in (n for n in wanted if n in FEATURE_NAMES):
        out[name] = pd.to_numeric(out[name], errors="raise").astype("float64")
    out[EVENT_TIMESTAMP] = pd.to_datetime(out[EVENT_TIMESTAMP], utc=True).astype("datetime64[us, UTC]")
    return out


_ONLINE_BATCH_REFS: tuple[str, ...] = tuple(
    f"{view}:{feature}" for view, features in ONLINE_VIEWS.items() for feature in features
)

OnlineEngine = Literal["direct", "feast", "feast_odfv"]


def online_vector(
    requests: Sequence[Any],
    *,
    settings: FeatureSettings | None = None,
    as_of: datetime | None = None,
    engine: OnlineEngine = "direct",
) -> list[OnlineVector]:
    """Online features for each request (a PredictionRequest, or a mapping with the entity's join key and
    the use case's request fields).

    An unknown entity, a null value, or a value older than its view's TTL at `as_of` (default now)
    comes back as None and is named in `missing`; it is never replaced by 0 here, so serving decides
    what to do. Feast itself does not expire online values, so the TTL is applied here, to the batch
    features and to the request-time features computed from them.

    Engines, all returning the same vectors (the skew tests run each against the training frame):
    `direct` (default) reads the online store without Feast (`steelthread_features.online`: cheaper per
    call, as `bench/bench_features.py` measures, and no `import feast`); `feast` asks
    `get_online_features` for the batch views and computes the request-time features here, with the use
    case's row transform (`on_demand.row`: the row form of what the on-demand view runs for training,
    bit-identical); `feast_odfv` asks Feast for the whole
    service, on-demand view included (an Arrow/pandas conversion on every call).
    """
    if engine == "direct":
        return online_vectors(requests, settings=settings, as_of=as_of)
    if engine not in ("feast", "feast_odfv"):
        raise FeatureInputError("engine", f"unknown engine {engine!r}; use direct, feast or feast_odfv")
    rows = check_requests(requests, as_of)
    if not rows:
        return []
    handle = _handle(settings or default_settings())
    if engine == "feast_odfv":
        with quiet_feast():
            response = handle.store.get_online_features(features=handle.service, entity_rows=rows)
    else:
        response = handle.store.get_online_features(
            features=list(_ONLINE_BATCH_REFS),
            entity_rows=[{JOIN_KEY: row[JOIN_KEY]} for row in rows],
        )
    data = response.to_dict(include_event_timestamps=True)
    return build_vectors(rows, data, as_of, with_application=engine == "feast")


def slice_attributes(entity_ids: Sequence[int], *, settings: FeatureSettings | None = None) -> pd.DataFrame:
    """Online stored slice attributes (`SLICE_COLUMNS`) per entity key: fairness and slices only, never
    model inputs."""
    handle = _handle(settings or default_settings())
    with quiet_feast():
        service = handle.store.get_feature_service(SLICE_SERVICE)
        data = handle.store.get_online_features(
            features=service, entity_rows=[{JOIN_KEY: int(c)} for c in entity_ids]
        ).to_dict()
    return pd.DataFrame({JOIN_KEY: list(entity_ids), **{c: data[c] for c in SLICE_COLUMNS}})
