"""Settings of the feature library: the shared deployment layout plus Feast's stores (prefix STEELTHREAD_)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from steelthread_contracts.settings import DeploymentSettings
from steelthread_features.definitions import PROJECT


class FeatureSettings(DeploymentSettings):
    """Which Feast profile to use and where its stores live.

    `local` needs no server (DuckDB over the parquet in `tables_dir`, SQLite online store, file registry
    in `feast_dir`); `production` reads parquet from `offline_store_uri`, serves from Redis and keeps the
    registry in PostgreSQL. Frozen so a settings object can key the cached FeatureStore.
    """

    project: str = Field(default=PROJECT, pattern=r"^[A-Za-z0-9_]+$", description="Feast project name.")
    offline_store_kind: Literal["duckdb", "spark"] = Field(
        default="duckdb", description="Offline store engine: DuckDB (embedded) or Spark."
    )
    offline_store_uri: str | None = Field(
        default=None,
        description="Root of the parquet tables in production, e.g. s3://bucket/steelthread/data.",
    )
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Online store (production).")
    postgres_dsn: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/steelthread",
        description="Feast registry database (production).",
    )
    redis_key_ttl_seconds: int | None = Field(
        default=None, ge=1, description="Expiry of online-store keys; unset: keys never expire."
    )

    def offline_root(self) -> str:
        """Where the source tables live for this profile (a folder path or an object-store URI)."""
        if self.profile == "production":
            if not self.offline_store_uri:
                raise ValueError("STEELTHREAD_OFFLINE_STORE_URI must be set for the production profile")
            return self.offline_store_uri.rstrip("/")
        return str(self.tables_dir.resolve())
