"""The API training and serving call: point-in-time training frames and online feature vectors.

Both go through the feature service `credit_risk_v1`, so the columns and the transform code are the
same on both paths. The FeatureStore and the resolved feature service are built once per settings
(`import feast` alone costs seconds); importing this module does not import Feast.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from steelthread_features.definitions import (
    APPLICATION_FEATURES,
    EVENT_TIMESTAMP,
    FEATURE_NAMES,
    FEATURE_SERVICE,
    FEATURE_VIEW_OF,
    HISTORY_FEATURES,
    HISTORY_VIEW,
    JOIN_KEY,
    PROFILE_CATEGORICAL,
    PROFILE_FEATURES,
    PROFILE_VIEW,
    REQUEST_FIELDS,
    SLICE_COLUMNS,
    SLICE_SERVICE,
    VIEW_TTLS,
)
from steelthread_features.feast_warnings import load_feast, quiet_feast
from steelthread_features.settings import FeatureSettings
from steelthread_features.store_config import store_config, store_yaml
from steelthread_features.transforms import application_matrix
from steelthread_features.validation import (
    ROW_ID,
    FeatureInputError,
    check_entity_frame,
    check_feature_names,
)

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore


class FeatureRetrievalError(RuntimeError):
    """Feast returned something other than one row per entity row, in order."""


@dataclass(frozen=True)
class OnlineVector:
    """One request's features in credit_risk_v1 order; missing values are None and listed."""

    customer_id: int
    values: dict[str, float | None]
    missing: tuple[str, ...]

    def as_array(self) -> np.ndarray:
        """float32 row for an ONNX tensor; missing values become NaN."""
        return np.array([np.nan if v is None else v for v in self.values.values()], dtype=np.float32)


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
    return _Handle(store, service, tuple(f"{PROFILE_VIEW}:{c}" for c in SLICE_COLUMNS))


def get_store(settings: FeatureSettings | None = None) -> FeatureStore:
    """The cached FeatureStore for the settings (built on first use)."""
    return _handle(settings or default_settings()).store


def clear_cache() -> None:
    """Forget cached stores and close their registry connections (tests, shutdown)."""
    _handle.cache_clear()
    with _STORES_LOCK:
        for store in _STORES.values():
            for attribute in ("read_engine", "write_engine"):
                engine = getattr(store.registry, attribute, None)
                if engine is not None:  # SQL registry: close pooled PostgreSQL connections
                    engine.dispose()
        _STORES.clear()


def feature_names() -> list[str]:
    """credit_risk_v1's feature order, without importing Feast."""
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

    `entity_df` needs customer_id, event_timestamp and the request fields (loan_amount, term_months,
    purpose, declared_income); other columns (request_id, labels) pass through. Returns the entity
    columns in their order, then credit_risk_v1's features in order (then region/protected_group
    with `with_slices`), one row per entity row in the same order; anything else raises.
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


def _request_row(request: Any) -> dict[str, Any]:
    if hasattr(request, "model_dump"):
        data: Mapping[str, Any] = request.model_dump(mode="json")
    elif isinstance(request, Mapping):
        data = request
    else:
        raise FeatureInputError(None, f"a request must be a mapping, got {type(request).__name__}")
    row: dict[str, Any] = {}
    for name in (JOIN_KEY, *REQUEST_FIELDS):
        if name not in data or data[name] is None:
            raise FeatureInputError(name, f"request is missing field {name!r}")
        row[name] = data[name]
    if not isinstance(row[JOIN_KEY], int) or isinstance(row[JOIN_KEY], bool):
        raise FeatureInputError(JOIN_KEY, f"field {JOIN_KEY!r} must be an integer")
    for name in ("loan_amount", "declared_income"):
        value = row[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FeatureInputError(name, f"field {name!r} must be a number")
        row[name] = float(value)
    if isinstance(row["term_months"], bool) or not isinstance(row["term_months"], int):
        raise FeatureInputError("term_months", "field 'term_months' must be an integer")
    if not isinstance(row["purpose"], str):
        raise FeatureInputError("purpose", "field 'purpose' must be a string")
    return row


def _clean(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


_ONLINE_BATCH_REFS: tuple[str, ...] = (
    *(f"{PROFILE_VIEW}:{n}" for n in (*PROFILE_FEATURES, *PROFILE_CATEGORICAL)),
    *(f"{HISTORY_VIEW}:{n}" for n in HISTORY_FEATURES),
)
"""Batch inputs of credit_risk_v1 online, incl. the categorical the request-time view one-hot encodes."""


def online_vector(
    requests: Sequence[Any],
    *,
    settings: FeatureSettings | None = None,
    as_of: datetime | None = None,
    use_feast_odfv: bool = False,
) -> list[OnlineVector]:
    """Online features for each request (PredictionRequest or mapping with the same fields).

    An unknown customer, a null value, or a value older than its view's TTL at `as_of` (default now)
    comes back as None and is named in `missing`; it is never replaced by 0 here, so serving decides
    what to do. Feast itself does not expire online values, so the TTL is applied here, to the batch
    features and to the request-time features computed from them.

    By default Feast serves the batch features and the request-time features are computed here with
    `transforms.application_features`, the same function the on-demand view runs for training: Feast's
    on-demand path adds ~10 ms of Arrow/pandas conversion per call. `use_feast_odfv=True` asks Feast
    for the whole service instead (the skew tests check both give the training frame's values).
    """
    if isinstance(requests, Mapping) or hasattr(requests, "model_dump"):
        raise FeatureInputError(None, "online_vector takes a sequence of requests")
    if as_of is not None and as_of.tzinfo is None:
        raise FeatureInputError("as_of", "as_of must be timezone-aware")
    rows = [_request_row(r) for r in requests]
    if not rows:
        return []
    handle = _handle(settings or default_settings())
    if use_feast_odfv:
        with quiet_feast():
            response = handle.store.get_online_features(features=handle.service, entity_rows=rows)
    else:
        # No warnings filter here: catch_warnings is process-global and not thread-safe, and
        # this is the hot path serving calls from many threads.
        response = handle.store.get_online_features(
            features=list(_ONLINE_BATCH_REFS),
            entity_rows=[{JOIN_KEY: row[JOIN_KEY]} for row in rows],
        )
    data = response.to_dict(include_event_timestamps=True)
    if not use_feast_odfv:
        inputs = {
            **{name: [row[name] for row in rows] for name in REQUEST_FIELDS},
            "home_ownership": data["home_ownership"],
            "total_balance": data["total_balance"],
        }
        computed = application_matrix(inputs)
        for j, name in enumerate(APPLICATION_FEATURES):
            data[name] = computed[:, j].tolist()
    now = (as_of or datetime.now(UTC)).timestamp()
    view_ts_column = {
        PROFILE_VIEW: f"{PROFILE_FEATURES[0]}__ts",
        HISTORY_VIEW: f"{HISTORY_FEATURES[0]}__ts",
    }
    out = []
    for i, row in enumerate(rows):
        expired = set()
        for view, column in view_ts_column.items():
            stamp = data.get(column, [None] * len(rows))[i]
            if stamp and now - float(stamp) > VIEW_TTLS[view].total_seconds():
                expired.add(view)
        values = {
            name: None if FEATURE_VIEW_OF.get(name) in expired else _clean(data[name][i])
            for name in FEATURE_NAMES
        }
        missing = tuple(name for name, v in values.items() if v is None)
        out.append(OnlineVector(customer_id=int(row[JOIN_KEY]), values=values, missing=missing))
    return out


def warm_up(settings: FeatureSettings | None = None) -> None:
    """Build the store and touch the online store once, so the first request does not pay for it.

    Serving should call this at startup (readiness): `import feast` alone takes several seconds.
    """
    online_vector(
        [
            {
                JOIN_KEY: 1,
                "loan_amount": 1.0,
                "term_months": 12,
                "purpose": "other",
                "declared_income": 1.0,
            }
        ],
        settings=settings,
    )


def slice_attributes(customer_ids: Sequence[int], *, settings: FeatureSettings | None = None) -> pd.DataFrame:
    """Online region and protected_group per customer (fairness/slices only, never model input)."""
    handle = _handle(settings or default_settings())
    with quiet_feast():
        service = handle.store.get_feature_service(SLICE_SERVICE)
        data = handle.store.get_online_features(
            features=service, entity_rows=[{JOIN_KEY: int(c)} for c in customer_ids]
        ).to_dict()
    return pd.DataFrame({JOIN_KEY: list(customer_ids), **{c: data[c] for c in SLICE_COLUMNS}})
