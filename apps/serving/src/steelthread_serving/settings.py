"""The serving app's one settings object.

Everything comes from `STEELTHREAD_*` environment variables so the same image runs in every environment; a
misconfigured server refuses to start rather than serve with a guessable key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import NoDecode

from steelthread_contracts.package import ALIASES
from steelthread_contracts.settings import DeploymentSettings
from steelthread_contracts.usecase import active
from steelthread_serving.quotas import QuotaLimits, parse_limits
from steelthread_serving.scopes import ScopedKey, read_scoped_keys

DEFAULT_FLAGS_PATH = Path(__file__).resolve().parents[2] / "flags.json"
PLACEHOLDER_KEYS = frozenset(
    {"changeme", "change-me", "secret", "password", "apikey", "api-key", "test", "example", "xxx"}
)
MIN_KEY_LENGTH = 16


class ServingSettings(DeploymentSettings):
    """Settings of `steelthread-serve`; see docs/configuration.md for the generated reference."""

    api_keys_file: Path | None = Field(
        default=None,
        description=(
            "JSON file of scoped keys (a mounted secret): a list of {owner, sha256 (hex digest of the key), "
            "scopes (predict, explain, feedback, admin)}; the keys themselves are never stored."
        ),
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        validate_default=True,
        description=(
            "Comma-separated API keys accepted in the X-API-Key header (at least 16 chars), each with the "
            "predict, explain and feedback scopes; scoped keys: STEELTHREAD_API_KEYS_FILE."
        ),
    )
    flags_path: Path = Field(
        default=DEFAULT_FLAGS_PATH,
        description=(
            "flagd flag file (serving-mode, canary-fraction); must be usable at start-up (else exit 2), "
            "later problems keep the last good flags."
        ),
    )
    flags_poll_ms: int = Field(
        default=500, ge=50, le=60_000, description="How often the flag file is re-read."
    )
    champion_alias: str = Field(
        default="champion",
        description="Alias whose pointer file this deployment serves as its champion (staging: `staging`).",
    )
    model_poll_ms: int = Field(
        default=1000, ge=50, le=600_000, description="How often the alias pointer files are checked."
    )
    onnx_providers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["CPUExecutionProvider"],
        description=(
            "onnxruntime providers in order of preference (comma-separated); unavailable ones are "
            "skipped, so the GPU image falls back to CPU. Tree ensembles run on the CPU either way."
        ),
    )
    feature_timeout_ms: int = Field(
        default=250, ge=1, le=60_000, description="Online feature lookups slower than this degrade."
    )
    online_features: bool = Field(
        default=True,
        description="Read online features (the store Feast materialised) through the feature library.",
    )
    prediction_log_max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="Rotate a log file past this size."
    )
    prediction_log_queue_size: int = Field(
        default=10_000,
        ge=1,
        description="Records waiting for the database writer; past it further records spill to the file.",
    )
    prediction_log_batch_size: int = Field(
        default=500, ge=1, le=10_000, description="Most records written in one database statement."
    )
    prediction_log_linger_ms: int = Field(
        default=50,
        ge=0,
        le=10_000,
        description=(
            "How long the database writer waits after a record for more to join its statement: fewer "
            "statements and thread wake-ups under load; records reach the database this much later."
        ),
    )
    prediction_log_timeout_ms: int = Field(
        default=5000,
        ge=100,
        le=600_000,
        description="Connect and statement timeout of the writer: past it the database counts as down.",
    )
    prediction_log_retry_ms: int = Field(
        default=2000,
        ge=10,
        le=600_000,
        description="Pause between reconnection attempts and between replays of spilled records.",
    )
    body_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Each read of a request body must deliver within this time, else 408 and a close.",
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="A connection must send a request's whole headers within this time, else it is closed.",
    )
    rate_limit: str = Field(
        default="",
        description=(
            "Per-key rate limits in the `limits` notation, `;`-separated (`100/second;5000/minute`); past "
            "them 429 with Retry-After. Empty: no quotas."
        ),
    )
    auth_failure_rate_limit: str = Field(
        default="60/minute",
        description=(
            "Requests without a valid key (401) per client address, in the `limits` notation; past it every "
            "request from the address gets 429 with Retry-After before its key is checked. Empty: off."
        ),
    )
    log_bytes_limit: str = Field(
        default="",
        description=(
            "Bytes of prediction-log and feedback records one key's owner may cause per period, in the "
            "`limits` notation (`1073741824/day`); past it 429 before anything is scored. Empty: off."
        ),
    )
    unknown_entity_limit: str = Field(
        default="100/minute",
        description=(
            "Predictions for an entity key the feature store does not know (`unknown_customer`) per key, in "
            "the `limits` notation; past it the key's predictions get 429 (ADR 0019). Empty: off."
        ),
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where quotas are counted: `memory://` (per replica) or `redis://host:6379/0` (shared).",
    )
    quota_sync_ms: int = Field(
        default=1000,
        ge=0,
        le=60_000,
        description=(
            "With a shared quota store (Redis): how long a caller's passed check of the logged-bytes, "
            "unknown-entity and failed-authentication quotas stands on a replica, and how long logged bytes "
            "add up there before they are charged to the store (what other replicas charge is seen within "
            "it). 0: every check and charge is a round trip. The per-key rate limit is always counted in the "
            "store."
        ),
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description=(
            "Serve /metrics on this port of the API's interface instead of the API port (which then answers "
            "404 there): keeps metrics off the port clients reach. Unset: /metrics on the API port."
        ),
    )
    idempotency_window_s: float = Field(
        default=3600.0,
        ge=0,
        le=7 * 86_400,
        description=(
            "A prediction repeating a `request_id` within this window gets the stored answer (a different "
            "body: 409); 0 turns replays off. Per replica: replicas share nothing."
        ),
    )
    idempotency_max_entries: int = Field(
        default=10_000, ge=1, description="Most answers kept for replays per replica (oldest out first)."
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="Larger request bodies get 413.")
    access_log: bool = Field(
        default=False,
        description=(
            "Log one JSON line per answered request (event `access`: method, path, status, duration, and the "
            "request id, mode and model version of a prediction)."
        ),
    )
    log_repeat_interval_s: float = Field(
        default=60.0,
        gt=0,
        le=86_400,
        description=(
            "A warning every request meets (online store down, degraded answers) is logged at most once per "
            "interval and kind; the next line says how many were dropped."
        ),
    )
    skeleton_score: float = Field(
        default=0.1,
        allow_inf_nan=False,
        description="Constant score the skeleton answers; inside the use case's score range.",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("rate_limit", "auth_failure_rate_limit", "log_bytes_limit", "unknown_entity_limit")
    @classmethod
    def _rate_limits(cls, text: str) -> str:
        parse_limits(text)
        return text

    def quota_limits(self) -> QuotaLimits:
        return QuotaLimits(
            requests=parse_limits(self.rate_limit),
            auth_failures=parse_limits(self.auth_failure_rate_limit),
            logged_bytes=parse_limits(self.log_bytes_limit),
            unknown_entities=parse_limits(self.unknown_entity_limit),
        )

    @field_validator("rate_limit_storage")
    @classmethod
    def _rate_limit_storage(cls, uri: str) -> str:
        if not uri.startswith(("memory://", "redis://", "rediss://")):
            raise ValueError("must be memory:// or a redis:// URL")
        return uri

    @field_validator("api_keys_file")
    @classmethod
    def _readable_key_file(cls, path: Path | None) -> Path | None:
        if path is not None:
            read_scoped_keys(path)  # refused at start-up, not at the first request
        return path

    def scoped_keys(self) -> list[ScopedKey]:
        return [] if self.api_keys_file is None else read_scoped_keys(self.api_keys_file)

    @field_validator("onnx_providers", mode="before")
    @classmethod
    def _split_providers(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("skeleton_score")
    @classmethod
    def _inside_the_score_range(cls, score: float) -> float:
        low, high = active().score_range
        if not low <= score <= high:
            raise ValueError(f"must be inside the use case's score range [{low:g}, {high:g}]")
        return score

    @field_validator("champion_alias")
    @classmethod
    def _known_alias(cls, alias: str) -> str:
        if alias not in ALIASES:
            raise ValueError(f"must be one of {', '.join(ALIASES)}")
        return alias

    @field_validator("api_keys")
    @classmethod
    def _reject_placeholders(cls, keys: list[SecretStr], info: ValidationInfo) -> list[SecretStr]:
        if not keys and info.data.get("api_keys_file") is None and "api_keys_file" in info.data:
            raise ValueError(
                "set at least one key (comma-separated) in STEELTHREAD_API_KEYS, or STEELTHREAD_API_KEYS_FILE"
            )
        for key in keys:
            raw = key.get_secret_value()
            if not (raw.isascii() and raw.isprintable()) or " " in raw:
                # A header carries bytes: a key outside visible ASCII would depend on a client's encoding.
                raise ValueError("API keys must be visible ASCII characters (no spaces, no accents)")
            if raw.lower() in PLACEHOLDER_KEYS or len(raw) < MIN_KEY_LENGTH:
                raise ValueError(
                    f"placeholder or too-short API key rejected (need >= {MIN_KEY_LENGTH} chars, "
                    "not a well-known placeholder)"
                )
        return keys
