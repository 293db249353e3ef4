"""Settings of the feature library: one object, env prefix STEELTHREAD_."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from steelthread_features.definitions import PROJECT


class FeatureSettings(BaseSettings):
    """Which Feast profile to use and where its stores live.

    `local` needs no server (DuckDB over local parquet, SQLite online store, file registry);
    `production` reads parquet from `offline_store_uri`, serves from Redis and keeps the registry in
    PostgreSQL. Frozen so a settings object can key the cached FeatureStore.
    """

    model_config = SettingsConfigDict(env_prefix="STEELTHREAD_", extra="ignore", frozen=True)

    profile: Literal["local", "production"] = "local"
    root: Path = Field(
        default=Path("var"),
        validation_alias=AliasChoices("STEELTHREAD_DATA_DIR"),
        description="Root of local state shared by every app (STEELTHREAD_DATA_DIR, default var).",
    )
    tables_dir: Path | None = Field(
        default=None, description="Generated parquet (local offline store); default <root>/data."
    )
    feast_repo: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("STEELTHREAD_FEAST_DIR"),
        description="Feast repo (feature_store.yaml, local registry, SQLite store); default <root>/feast.",
    )
    project: str = Field(default=PROJECT, pattern=r"^[A-Za-z0-9_]+$")
    offline_store_kind: Literal["duckdb", "spark"] = "duckdb"
    offline_store_uri: str | None = Field(
        default=None,
        description="Root of the parquet tables in production, e.g. s3://bucket/steelthread/data.",
    )
    redis_url: str = "redis://127.0.0.1:6379/0"
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/steelthread"
    redis_key_ttl_seconds: int | None = Field(default=None, ge=1)

    def __init__(self, **values: Any) -> None:
        # `data_dir`/`feast_dir` name the folders themselves (as callers have always passed them); the
        # environment's STEELTHREAD_DATA_DIR is the shared root, so the two are kept apart here.
        if "data_dir" in values:
            values["tables_dir"] = values.pop("data_dir")
        if "feast_dir" in values:
            values["STEELTHREAD_FEAST_DIR"] = values.pop("feast_dir")
        super().__init__(**values)

    @property
    def data_dir(self) -> Path:
        return self.tables_dir or self.root / "data"

    @property
    def feast_dir(self) -> Path:
        return self.feast_repo or self.root / "feast"

    def offline_root(self) -> str:
        """Where the source tables live for this profile (a folder path or an object-store URI)."""
        if self.profile == "production":
            if not self.offline_store_uri:
                raise ValueError("STEELTHREAD_OFFLINE_STORE_URI must be set for the production profile")
            return self.offline_store_uri.rstrip("/")
        return str(self.data_dir.resolve())
