"""feature_store.yaml content generated from settings, never hand-edited.

Both profiles are rendered by one function so the difference between them is visible in one place.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import yaml

from steelthread_features.settings import FeatureSettings


def redis_connection_string(url: str) -> str:
    """Turn redis://[:password@]host:port/db into Feast's `host:port,db=N,password=...` form."""
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"}:
        raise ValueError(f"STEELTHREAD_REDIS_URL must start with redis:// or rediss://, got {url!r}")
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 6379
    out = [f"{host}:{port}"]
    db = parts.path.lstrip("/")
    if db:
        if not db.isdigit():
            raise ValueError(f"STEELTHREAD_REDIS_URL database must be a number, got {db!r}")
        out.append(f"db={db}")
    if parts.password:
        out.append(f"password={parts.password}")
    if parts.username and parts.username != "default":
        out.append(f"username={parts.username}")
    if parts.scheme == "rediss":
        out.append("ssl=true")
    return ",".join(out)


def sqlalchemy_url(dsn: str) -> str:
    """A libpq DSN as a SQLAlchemy URL for psycopg 3, keeping the DSN's own sslmode.

    Feast's Postgres configs default to `sslmode: require`; passing the DSN through unchanged means
    a local `?sslmode=disable` (or a production `verify-full`) is what is used.
    """
    parts = urlsplit(dsn)
    if parts.scheme not in {"postgresql", "postgres", "postgresql+psycopg"}:
        raise ValueError(f"STEELTHREAD_POSTGRES_DSN must be a postgresql:// URL, got scheme {parts.scheme!r}")
    query = dict(parse_qsl(parts.query))
    return urlunsplit(("postgresql+psycopg", parts.netloc, parts.path, urlencode(query), ""))


def store_config(settings: FeatureSettings) -> dict[str, Any]:
    """The feature_store.yaml mapping for the settings' profile."""
    offline: dict[str, Any] = {"type": settings.offline_store_kind}
    if settings.offline_store_kind == "spark":
        offline["spark_conf"] = {"spark.sql.session.timeZone": "UTC"}
    config: dict[str, Any] = {
        "project": settings.project,
        "provider": "local",
        "offline_store": offline,
        "entity_key_serialization_version": 3,
    }
    if settings.profile == "local":
        config["registry"] = {
            "registry_type": "file",
            "path": str((settings.feast_dir / "registry.db").resolve()),
            "cache_ttl_seconds": 60,
        }
        config["online_store"] = {
            "type": "sqlite",
            "path": str((settings.feast_dir / "online_store.db").resolve()),
        }
    else:
        config["registry"] = {
            "registry_type": "sql",
            "path": sqlalchemy_url(settings.postgres_dsn),
            "cache_ttl_seconds": 60,
            "sqlalchemy_config_kwargs": {"pool_pre_ping": True},
        }
        online: dict[str, Any] = {
            "type": "redis",
            "connection_string": redis_connection_string(settings.redis_url),
        }
        if settings.redis_key_ttl_seconds is not None:
            online["key_ttl_seconds"] = settings.redis_key_ttl_seconds
        config["online_store"] = online
    return config


def store_yaml(settings: FeatureSettings) -> str:
    return yaml.safe_dump(store_config(settings), sort_keys=False)
