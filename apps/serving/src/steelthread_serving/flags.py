"""Serving flags read through OpenFeature, failing safe.

The in-process flagd provider over a flag file means no flag server is needed locally, and swapping in flagd,
Unleash or LaunchDarkly later is a provider change, not a code change. The provider re-reads the file when its
modification time changes, so a mode change takes effect without a restart.

A flag file that cannot be used as written (unreadable, deleted, a flag missing or disabled, a default naming
no variant, a value of the wrong type or out of range) changes nothing: the last good flags stay in effect, as
one set (mode and canary fraction together, so a combination nobody wrote is never served), until the file
is fixed. The problem is reported (`FlagState.problem`, `GET /v1/model`, the `steelthread_flags_valid` gauge)
and logged once per change, not per poll. Only at start-up, with no last good flags, is it fatal
(`FlagsError`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import ResolverType
from openfeature.event import EventDetails, ProviderEvent
from openfeature.exception import ErrorCode, OpenFeatureError, ProviderNotReadyError
from openfeature.flag_evaluation import FlagEvaluationDetails, Reason

from steelthread_contracts import ServingMode
from steelthread_contracts.logs import RepeatFilter

SERVING_MODE_FLAG = "serving-mode"
CANARY_FRACTION_FLAG = "canary-fraction"
PROVIDER_LOGGER = "openfeature.contrib"
"""flagd's file watcher logs here, a traceback per poll while the file is broken."""

logger = logging.getLogger(__name__)
provider_log_filter = RepeatFilter()


class FlagProblemKind(StrEnum):
    """Why flags cannot be used as written: the bounded `reason` label of the flag-problems counter."""

    FILE_MISSING = "file_missing"
    FILE_INVALID = "file_invalid"
    FLAG_MISSING = "flag_missing"
    FLAG_DISABLED = "flag_disabled"
    NO_VARIANT = "no_variant"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_MODE = "unknown_mode"
    FLAG_ERROR = "flag_error"


@dataclass(frozen=True)
class FlagProblem:
    kind: FlagProblemKind
    message: str


@dataclass(frozen=True)
class FlagState:
    mode: ServingMode
    canary_fraction: float
    problems: tuple[FlagProblem, ...] = ()
    """Why the flag file is not in effect as written; the mode and fraction are then the last good ones."""

    @property
    def problem(self) -> str | None:
        return "; ".join(p.message for p in self.problems) or None

    def describe(self) -> str:
        return f"mode {self.mode.value}, canary-fraction {self.canary_fraction:g}"


class FlagsError(Exception):
    """The flag file cannot be used and there are no last good flags to keep (at start-up)."""


FlagListener = Callable[[FlagState, FlagState | None], None]
"""Called with the new state and the previous one (None the first time) whenever the state changes."""


class ServingFlags:
    """Owns one OpenFeature domain so several apps (e.g. in tests) never share a provider.

    Raises `FlagsError` when the file cannot be used at start-up. Afterwards the state only changes to another
    good set of flags, or to the last good one with problems attached.
    """

    def __init__(self, path: Path, poll_ms: int, cache_ms: int = 100) -> None:
        if not path.is_file():
            raise FlagsError(f"flag file not found: {path}")
        _quiet_provider_repeats()
        self._path = path
        self._domain = f"steelthread-serving-{uuid.uuid4().hex}"
        self._provider = FlagdProvider(
            resolver_type=ResolverType.FILE,
            offline_flag_source_path=str(path),
            deadline_ms=poll_ms,
        )
        try:
            api.set_provider_and_wait(self._provider, self._domain)
        except ProviderNotReadyError as exc:
            self._provider.shutdown()
            raise FlagsError(f"flag file {path}: {_load_error(exc.__cause__)}") from None
        self._client: OpenFeatureClient = api.get_client(self._domain)
        problems, mode, fraction = self._read()
        if problems or mode is None or fraction is None:
            self._provider.shutdown()
            raise FlagsError(f"flag file {path}: " + "; ".join(p.message for p in problems))
        self._state = FlagState(mode=mode, canary_fraction=fraction)
        self._listeners: list[FlagListener] = []
        self._file_error: tuple[str, FlagProblem] | None = None
        """The provider's last error message and what it means, while the file cannot be read."""
        self._provider_repeats = 0
        # An OpenFeature evaluation (hooks, JSON logic) costs more than the whole skeleton answer;
        # the file is only re-read every poll interval anyway, so a short cache changes nothing visible.
        self._cache_seconds = min(cache_ms, poll_ms) / 1000
        self._cached: tuple[float, FlagState] = (time.monotonic(), self._state)
        self._lock = threading.Lock()
        logger.info(
            "flags loaded: %s",
            self._state.describe(),
            extra={"event": "flags_loaded", **_fields(self._state)},
        )
        # The provider's events (from its poll thread) refresh the state at once, so a change or a problem is
        # reported and logged without waiting for a request to evaluate the flags.
        self._handlers: dict[ProviderEvent, Callable[[EventDetails], None]] = {
            ProviderEvent.PROVIDER_ERROR: self._on_error,
            ProviderEvent.PROVIDER_READY: self._on_loaded,
            ProviderEvent.PROVIDER_CONFIGURATION_CHANGED: self._on_loaded,
        }
        for event, handler in self._handlers.items():
            self._client.add_handler(event, handler)

    def subscribe(self, listener: FlagListener) -> None:
        """Call `listener` now with the current state, then on every change."""
        with self._lock:
            self._listeners.append(listener)
            listener(self._state, None)

    def current(self) -> FlagState:
        """The flags as of at most `cache_ms` ago."""
        cached = self._cached
        now = time.monotonic()
        if now - cached[0] < self._cache_seconds:
            return cached[1]
        return self.refresh()

    def refresh(self) -> FlagState:
        """Evaluate the flags now: the file's values when they are all usable, else the last good ones."""
        with self._lock:
            problems, mode, fraction = self._read()
            if self._file_error is not None:
                problems.insert(0, self._file_error[1])
            previous = self._state
            if problems or mode is None or fraction is None:
                state = FlagState(previous.mode, previous.canary_fraction, tuple(problems))
            else:
                state = FlagState(mode=mode, canary_fraction=fraction)
            if state != previous:
                self._state = state
                self._changed(state, previous)
            self._cached = (time.monotonic(), state)
            return state

    def close(self) -> None:
        for event, handler in self._handlers.items():
            self._client.remove_handler(event, handler)
        self._provider.shutdown()

    def _read(self) -> tuple[list[FlagProblem], ServingMode | None, float | None]:
        """Both flags as the provider resolves them, and what is wrong with them."""
        problems: list[FlagProblem] = []
        mode_details = self._client.get_string_details(SERVING_MODE_FLAG, ServingMode.SKELETON.value)
        mode: ServingMode | None = None
        if (problem := _resolution_problem(mode_details)) is not None:
            problems.append(problem)
        else:
            try:
                mode = ServingMode(mode_details.value)
            except ValueError:
                known = ", ".join(m.value for m in ServingMode)
                problems.append(
                    FlagProblem(
                        FlagProblemKind.UNKNOWN_MODE,
                        f"{SERVING_MODE_FLAG} {mode_details.value!r} is not one of {known}",
                    )
                )
        fraction_details = self._client.get_float_details(CANARY_FRACTION_FLAG, 0.0)
        fraction: float | None = None
        if (problem := _resolution_problem(fraction_details)) is not None:
            problems.append(problem)
        elif not 0.0 <= fraction_details.value <= 1.0:
            problems.append(
                FlagProblem(
                    FlagProblemKind.OUT_OF_RANGE,
                    f"{CANARY_FRACTION_FLAG} {fraction_details.value!r} is outside [0, 1]",
                )
            )
        else:
            fraction = fraction_details.value
        return problems, mode, fraction

    def _changed(self, state: FlagState, previous: FlagState) -> None:
        """One log line per change of state, then the listeners (metrics)."""
        if state.problems:
            logger.warning(
                "flag problem: %s; keeping the last good flags (%s)",
                state.problem,
                state.describe(),
                extra={"event": "flags_problem", **_fields(state)},
            )
        else:
            recovered = " (flag file usable again)" if previous.problems else ""
            fields = _fields(state)
            if self._provider_repeats:  # what the provider's log filter dropped while the file was broken
                fields["provider_log_repeats_dropped"] = self._provider_repeats
                self._provider_repeats = 0
            logger.info(
                "flags changed: %s%s",
                state.describe(),
                recovered,
                extra={"event": "flags_changed", **fields},
            )
        for listener in self._listeners:
            listener(state, previous)

    def _on_error(self, details: EventDetails) -> None:
        """The provider could not read the file (it keeps what it had); fired on every poll until fixed.

        The error is classified once per message, when it first appears: looking again on every poll could
        see a file that is being fixed and report a second, different problem for the same error."""
        message = details.message or "could not be read"
        if self._file_error is None or self._file_error[0] != message:
            if self._path.exists():
                problem = FlagProblem(FlagProblemKind.FILE_INVALID, f"flag file {self._path}: {message}")
            else:
                problem = FlagProblem(FlagProblemKind.FILE_MISSING, f"flag file {self._path} not found")
            self._file_error = (message, problem)
        self.refresh()

    def _on_loaded(self, _: EventDetails) -> None:
        """The provider read the file (again): whatever broke it is gone."""
        self._file_error = None
        self._provider_repeats += provider_log_filter.reset()
        self.refresh()


def _resolution_problem(
    details: FlagEvaluationDetails[str] | FlagEvaluationDetails[float],
) -> FlagProblem | None:
    """What made the provider answer the caller's default instead of a value written in the file."""
    key = details.flag_key
    if details.error_code is ErrorCode.FLAG_NOT_FOUND:
        return FlagProblem(FlagProblemKind.FLAG_MISSING, f"{key} is not in the flag file")
    if details.error_code is ErrorCode.TYPE_MISMATCH:
        return FlagProblem(FlagProblemKind.WRONG_TYPE, f"{key}: {details.error_message}")
    if details.error_code is not None:
        if details.error_message and "not in variants" in details.error_message:
            return FlagProblem(FlagProblemKind.NO_VARIANT, f"{key}: {details.error_message}")
        message = details.error_message or details.error_code.value
        return FlagProblem(FlagProblemKind.FLAG_ERROR, f"{key}: {message}")
    if details.reason == Reason.DISABLED:
        return FlagProblem(FlagProblemKind.FLAG_DISABLED, f"{key} is DISABLED")
    if details.variant is None:
        return FlagProblem(FlagProblemKind.NO_VARIANT, f"{key} has no defaultVariant")
    return None


def _load_error(cause: BaseException | None) -> str:
    """The reason the provider could not load the file at start-up, in one line."""
    if isinstance(cause, json.JSONDecodeError):
        return f"not valid JSON ({cause})"
    if isinstance(cause, OpenFeatureError):
        return f"not a flagd flag file ({cause.error_message or type(cause).__name__})"
    if cause is None:
        return "could not be read"
    return f"could not be read ({type(cause).__name__}: {cause})"


def _fields(state: FlagState) -> dict[str, object]:
    """The state as `extra` fields of a log record."""
    return {
        "mode": state.mode.value,
        "canary_fraction": state.canary_fraction,
        "flags_problem": state.problem,
        "reasons": [p.kind.value for p in state.problems],
    }


def _quiet_provider_repeats() -> None:
    """flagd logs a traceback on every poll while the file is broken; keep the first of each run."""
    provider_logger = logging.getLogger(PROVIDER_LOGGER)
    if provider_log_filter not in provider_logger.filters:
        provider_logger.addFilter(provider_log_filter)


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
