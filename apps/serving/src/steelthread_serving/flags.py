"""Serving flags read through OpenFeature.

The in-process flagd provider over a flag file means no flag server is needed locally, and swapping in flagd,
Unleash or LaunchDarkly later is a provider change, not a code change. The provider re-reads the file when its
modification time changes, so a mode change takes effect without a restart.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import ResolverType
from openfeature.provider import ProviderStatus

from steelthread_contracts import ServingMode

SERVING_MODE_FLAG = "serving-mode"
CANARY_FRACTION_FLAG = "canary-fraction"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlagState:
    mode: ServingMode
    canary_fraction: float
    problem: str | None = None
    """Why the flags could not be used as written (the safe defaults are in effect then)."""


class ServingFlags:
    """Owns one OpenFeature domain so several apps (e.g. in tests) never share a provider."""

    def __init__(self, path: Path, poll_ms: int, cache_ms: int = 100) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"flag file not found: {path}")
        self._domain = f"steelthread-serving-{uuid.uuid4().hex}"
        self._provider = FlagdProvider(
            resolver_type=ResolverType.FILE,
            offline_flag_source_path=str(path),
            deadline_ms=poll_ms,
        )
        api.set_provider_and_wait(self._provider, self._domain)
        self._client: OpenFeatureClient = api.get_client(self._domain)
        # An OpenFeature evaluation costs ~0.2 ms (hooks, JSON logic), more than the whole skeleton answer;
        # the file is only re-read every poll interval anyway, so a short cache changes nothing visible.
        self._cache_seconds = min(cache_ms, poll_ms) / 1000
        self._cached: tuple[float, FlagState] | None = None
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        return self._client.get_provider_status() == ProviderStatus.READY

    def current(self) -> FlagState:
        """The flags as of at most `cache_ms` ago."""
        cached = self._cached
        now = time.monotonic()
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        with self._lock:
            state = self.evaluate()
            self._cached = (now, state)
        return state

    def evaluate(self) -> FlagState:
        """Evaluate both flags; an unusable value falls back to skeleton, never to an error."""
        raw_mode = self._client.get_string_value(SERVING_MODE_FLAG, ServingMode.SKELETON.value)
        fraction = self._client.get_float_value(CANARY_FRACTION_FLAG, 0.0)
        problem = None
        try:
            mode = ServingMode(raw_mode)
        except ValueError:
            problem = f"unknown serving-mode {raw_mode!r}; using skeleton"
            mode = ServingMode.SKELETON
        if not 0.0 <= fraction <= 1.0:
            problem = f"canary-fraction {fraction!r} outside [0, 1]; using 0"
            fraction = 0.0
        if problem:
            logger.warning(problem)
        return FlagState(mode=mode, canary_fraction=fraction, problem=problem)

    def close(self) -> None:
        self._provider.shutdown()


def set_flags(path: Path, mode: ServingMode, canary_fraction: float | None = None) -> None:
    """Rewrite the flag file's defaults the way an operator would (atomically), keeping its variants.

    Used by the demo and the deploy scripts; a running server picks the change up within its poll interval.
    """
    document = json.loads(path.read_text())
    flags = document["flags"]
    flags[SERVING_MODE_FLAG]["variants"].setdefault(mode.value, mode.value)
    flags[SERVING_MODE_FLAG]["defaultVariant"] = mode.value
    if canary_fraction is not None:
        if not 0.0 <= canary_fraction <= 1.0:
            raise ValueError(f"canary fraction must be within [0, 1], got {canary_fraction}")
        flags[CANARY_FRACTION_FLAG]["variants"]["configured"] = canary_fraction
        flags[CANARY_FRACTION_FLAG]["defaultVariant"] = "configured"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n")
    os.replace(tmp, path)
