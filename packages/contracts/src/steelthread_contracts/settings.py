"""The deployment's shared settings, and the start-up check that every `STEELTHREAD_*` variable is real.

Every app's and CLI's settings class derives from `DeploymentSettings`, so the state root and the folders
under it have one name and one default everywhere: `STEELTHREAD_DATA_DIR` is the root, and each folder
(`STEELTHREAD_TABLES_DIR`, `STEELTHREAD_MODELS_DIR`, ...) defaults to a fixed folder under it, so one
variable moves a whole deployment and any folder can still be pointed elsewhere.

A misspelt variable would otherwise be ignored silently (pydantic-settings ignores what no field reads), so
every entry point calls `exit_on_unknown_variables()` first: one `error:` line naming the closest valid
name, exit 2. The valid names are the settings classes' own (generated into `env_names.py` by
docs/gen_config_reference.py, which cannot import every app here) plus `OTHER_VARIABLES`, the few read
directly from the environment. docs/configuration.md says how to add a setting.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from steelthread_contracts.env_names import SETTINGS_VARIABLES
from steelthread_contracts.privacy import LogPolicy, secret_of
from steelthread_contracts.usecase import UseCase

ENV_PREFIX = "STEELTHREAD_"
EXIT_UNKNOWN_VARIABLE = 2

LAYOUT: dict[str, str] = {
    "tables_dir": "data",
    "feast_dir": "feast",
    "models_dir": "models",
    "audit_dir": "audit",
    "prediction_log_dir": "prediction-log",
    "feedback_dir": "feedback",
    "prediction_log_spill_dir": "prediction-log-spill",
    "monitoring_dir": "monitoring",
}
"""Each deployment folder and the folder under `data_dir` it defaults to."""

OTHER_VARIABLES: dict[str, str] = {
    "STEELTHREAD_USECASE": (
        "Which use case every part runs (see above); read by `steelthread_contracts.usecase.active()`."
    ),
    "STEELTHREAD_URL": "Base URL of the serving app in the runbooks' shell commands.",
    "STEELTHREAD_METRICS_URL": (
        "Base URL of the serving app's /metrics in the runbooks' shell commands: its "
        "`STEELTHREAD_METRICS_PORT` where set, else `STEELTHREAD_URL`."
    ),
    "STEELTHREAD_API_KEY": (
        "One of the server's keys (`STEELTHREAD_API_KEYS`), for the runbooks' commands and "
        "`steelthread-consumer-example`."
    ),
    "STEELTHREAD_SMOKE_API_KEY": "Key of the deploy workflow's smoke check (.github/scripts/smoke_check.py).",
    "STEELTHREAD_DEMO_DIR": "Folder of `make demo` (`scripts/demo.py`); default `var/demo`, emptied per run.",
    "STEELTHREAD_DEMO_ROWS": "Rows the demo generates (`scripts/demo.py`).",
    "STEELTHREAD_DEMO_REPLAY": "Requests the demo replays per serving mode (`scripts/demo.py`).",
    "STEELTHREAD_NOTEBOOK_ROWS": "Rows the notebooks generate (notebooks/).",
    "STEELTHREAD_TEST_POSTGRES_ADMIN_DSN": "Tests only: the PostgreSQL server the tests create databases on.",
    "STEELTHREAD_TEST_POSTGRES_BIN": "Tests only: folder of `pg_ctl` and `initdb` for throwaway clusters.",
    "STEELTHREAD_FIXTURE_BASE": "Tests only: the use case a fixture use case (tests/fixtures) extends.",
}
"""Variables read directly from the environment rather than through a settings class: one place to
register them, so the start-up check accepts them and the reference documents them."""

RENAMED: dict[str, str] = {
    "STEELTHREAD_FEATURES_DATA_DIR": "STEELTHREAD_TABLES_DIR",
    "STEELTHREAD_ROOT": "STEELTHREAD_DATA_DIR",
    "STEELTHREAD_FEAST_REPO": "STEELTHREAD_FEAST_DIR",
}
"""Old or wrongly documented names and the one name that replaced them (no alias is honoured)."""


def _under_root(folder: str) -> Callable[[dict[str, Any]], Path]:
    def default(data: dict[str, Any]) -> Path:
        root = data.get("data_dir", Path("var"))
        return Path(root) / folder

    return default


def folder(name: str, description: str) -> Any:
    """A deployment folder: `<data_dir>/<LAYOUT[name]>` unless set (None also means the default)."""
    return Field(default_factory=_under_root(LAYOUT[name]), description=description)


class DeploymentSettings(BaseSettings):
    """Where a deployment keeps its state, shared by every app and CLI.

    To add a setting to an app, add a field to that app's subclass (prefix and style as here) and run
    `make config-docs`; a setting several apps read belongs here.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    profile: Literal["local", "production"] = Field(
        default="local",
        description="`local` needs no server; `production` expects PostgreSQL, Redis and object storage.",
    )
    data_dir: Path = Field(
        default=Path("var"),
        description="State root: every folder below defaults to a folder under it.",
    )
    tables_dir: Path = folder("tables_dir", "Generated parquet tables (the local offline store).")
    feast_dir: Path = folder("feast_dir", "Feast repo (feature_store.yaml, local registry, SQLite store).")
    models_dir: Path = folder("models_dir", "Published model packages and alias pointers.")
    audit_dir: Path = folder("audit_dir", "Append-only audit log and promotion journal.")
    prediction_log_dir: Path = folder(
        "prediction_log_dir", "Prediction log as JSON lines (batch writes under `<dir>/batch/`)."
    )
    feedback_dir: Path = folder("feedback_dir", "Feedback (labels) as JSON lines.")
    prediction_log_spill_dir: Path = folder(
        "prediction_log_spill_dir",
        "Where records wait while PostgreSQL is unreachable or the queue is full, until replayed.",
    )
    monitoring_dir: Path = folder("monitoring_dir", "Per-run monitoring report.html and summary.json.")
    prediction_log_dsn: SecretStr | None = Field(
        default=None,
        description=(
            "postgresql:// URL of the shared prediction log and feedback store (tables prediction_log and "
            "prediction_feedback, created if missing): serving writes to it, monitoring reads its window "
            "from it (an explicit --log-dir still wins). Unset: JSON lines under prediction_log_dir and "
            "feedback_dir. Needs the `postgres` extra (the images install it)."
        ),
    )

    pseudonym_key: SecretStr | None = Field(
        default=None,
        description=(
            "Secret of the keyed pseudonyms the prediction log stores for the identifiers the use case tags "
            "`hash` (HMAC-SHA256); serving, batch and monitoring must share it. Unset in the local profile: "
            "a random one generated once as `<data_dir>/pseudonym.key`; required in production."
        ),
    )
    prediction_log_retention_days: int = Field(
        default=730,
        ge=1,
        description=(
            "Prediction-log records and feedback older than this many days are deleted by "
            "`steelthread-monitor retention` (files and PostgreSQL rows); at least the use case's label "
            "delay, so no label arrives for a deleted prediction."
        ),
    )

    def log_policy(self, use_case: UseCase) -> LogPolicy:
        """The use case's privacy policy with this deployment's pseudonym secret (`privacy.LogPolicy`)."""
        if not any(p.handling == "hash" for p in use_case.personal):
            return LogPolicy.of(use_case)
        configured = self.pseudonym_key.get_secret_value() if self.pseudonym_key else None
        return LogPolicy.of(use_case, secret_of(configured, self.data_dir, self.profile))

    @field_validator(*LAYOUT, mode="before")
    @classmethod
    def _none_is_the_default(cls, value: object, info: ValidationInfo) -> object:
        if value is None and info.field_name is not None:
            return _under_root(LAYOUT[info.field_name])(info.data)
        return value

    @field_validator("prediction_log_dsn", "pseudonym_key", mode="before")
    @classmethod
    def _empty_dsn_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("prediction_log_dsn")
    @classmethod
    def _postgresql_url(cls, dsn: SecretStr | None) -> SecretStr | None:
        if dsn is not None and not dsn.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return dsn


def field_env_names(cls: type[BaseSettings]) -> dict[str, list[str]]:
    """Each field's environment variables as pydantic-settings reads them (validation aliases honoured)."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    names: dict[str, list[str]] = {}
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, str):
            names[name] = [alias.upper()]
        elif isinstance(alias, AliasChoices):
            names[name] = [str(choice).upper() for choice in alias.choices if isinstance(choice, str)]
        else:
            names[name] = [f"{prefix}{name}".upper()]
    return names


def env_names(cls: type[BaseSettings]) -> list[str]:
    """The environment variables a settings class reads, in field order."""
    return [env for names in field_env_names(cls).values() for env in names]


def known_variables() -> frozenset[str]:
    return SETTINGS_VARIABLES | frozenset(OTHER_VARIABLES)


class UnknownVariableError(ValueError):
    """A `STEELTHREAD_*` variable that nothing reads: a typo or a renamed setting."""

    exit_code = EXIT_UNKNOWN_VARIABLE


def _explain(name: str, known: frozenset[str]) -> str:
    if name in RENAMED:
        return f"{name} (renamed: use {RENAMED[name]})"
    # Compared without the shared prefix, which would make every name look alike.
    tails = {known_name.removeprefix(ENV_PREFIX): known_name for known_name in sorted(known)}
    close = difflib.get_close_matches(name.removeprefix(ENV_PREFIX), list(tails), n=1, cutoff=0.6)
    return f"{name} (did you mean {tails[close[0]]}?)" if close else f"{name} (no close name)"


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Raise UnknownVariableError naming every unknown `STEELTHREAD_*` variable and its closest valid name."""
    env = os.environ if environ is None else environ
    known = known_variables()
    unknown = sorted(
        name for name in env if name.upper().startswith(ENV_PREFIX) and name.upper() not in known
    )
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise UnknownVariableError(
            f"unknown environment variable{plural} {', '.join(_explain(n.upper(), known) for n in unknown)}; "
            "valid names: docs/configuration.md"
        )


def exit_on_unknown_variables() -> None:
    """What every entry point calls first: one `error:` line and exit 2 for an unknown variable."""
    try:
        check_environment()
    except UnknownVariableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_UNKNOWN_VARIABLE) from None
