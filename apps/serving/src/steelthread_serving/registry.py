"""Which packages serve, and swapping them while traffic flows.

A watcher thread polls the alias pointer files; a changed pointer is loaded, warmed and smoke-checked off
the request path, then swapped in with one reference assignment (atomic in CPython), so in-flight requests
finish on the model they started with and no request ever sees a half-loaded one. A package that fails any
check is refused: the old model keeps serving, a metric counts the refusal and `GET /v1/model` names it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from steelthread_contracts import RefusedPackage
from steelthread_contracts.package import STABLE
from steelthread_serving.metrics import ServingMetrics
from steelthread_serving.package import OnnxModel, PackageError, load_package, pointer_folder, read_pointer

logger = logging.getLogger(__name__)

ROLES = ("champion", "challenger", "stable")


@dataclass(frozen=True)
class Slots:
    """An immutable snapshot: readers take one reference and see a consistent set."""

    champion: OnnxModel | None = None
    challenger: OnnxModel | None = None
    stable: OnnxModel | None = None


class ModelRegistry:
    def __init__(
        self,
        models_dir: Path,
        providers: list[str],
        metrics: ServingMetrics,
        expected_features: Callable[[], list[str] | None],
        champion_alias: str = "champion",
    ) -> None:
        self.models_dir = models_dir
        self.providers = providers
        self.metrics = metrics
        self.expected_features = expected_features
        self.aliases = {"champion": champion_alias, "challenger": "challenger", "stable": STABLE}
        self.slots = Slots()
        self.last_refused: RefusedPackage | None = None
        self._seen: dict[str, str | None] = dict.fromkeys(ROLES)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.on_swap: Callable[[], None] = lambda: None

    def refresh(self) -> None:
        """Load whatever the pointers name now; safe to call from any thread."""
        with self._lock:
            for role in ROLES:
                self._refresh_role(role)

    def _refresh_role(self, role: str) -> None:
        try:
            pointer = read_pointer(self.models_dir, self.aliases[role])
        except PackageError as exc:
            path = self.models_dir / f"{self.aliases[role]}.json"
            self._refuse(role, path, str(exc), key=f"bad-pointer:{exc}")
            return
        key = None if pointer is None else f"{pointer.version}@{pointer.path}"
        if key == self._seen[role]:
            return
        self._seen[role] = key
        if pointer is None:
            if role == "challenger" and self.slots.challenger is not None:
                self._swap(role, None)
            return
        directory = (self.models_dir / pointer.path).resolve()
        try:
            directory = pointer_folder(self.models_dir, self.aliases[role], pointer)
            model = self._loaded(directory, pointer.version) or load_package(
                directory, self.providers, self.expected_features()
            )
        except PackageError as exc:
            self._refuse(role, directory, str(exc), key=key)
            return
        if model.version != pointer.version:
            self._refuse(
                role,
                directory,
                f"pointer says version {pointer.version} but package.json says {model.version}",
                key=key,
            )
            return
        self._swap(role, model)

    def _loaded(self, directory: Path, version: str) -> OnnxModel | None:
        """The model another role already loaded from `directory` (after a promotion `stable` names the
        package `champion` had), so the same package is never loaded twice."""
        for role in ROLES:
            model: OnnxModel | None = getattr(self.slots, role)
            if model is not None and model.path == directory and model.version == version:
                return model
        return None

    def _swap(self, role: str, model: OnnxModel | None) -> None:
        old = getattr(self.slots, role)
        self.slots = replace(self.slots, **{role: model})
        if old is not None:
            self.metrics.model_info.labels(role=role, name=old.name, version=old.version).set(0)
        if model is not None:
            self.metrics.model_info.labels(role=role, name=model.name, version=model.version).set(1)
            self.metrics.model_loaded.labels(role=role).set(model.loaded_at.timestamp())
        created = model.manifest.created_at if model is not None else None
        if created is not None:
            self.metrics.model_created.labels(role=role).set(created.timestamp())
        else:  # an emptied role, or a package without created_at, has no age to show
            self.metrics.model_created.remove(role)
        if model is not None:
            logger.info(
                "%s now %s:%s on %s",
                role,
                model.name,
                model.version,
                model.execution_provider,
                extra={
                    "event": "model_swap",
                    "role": role,
                    "model_name": model.name,
                    "model_version": model.version,
                    "previous_version": old.version if old is not None else None,
                },
            )
            self.on_swap()

    def _refuse(self, role: str, path: Path, reason: str, key: str | None) -> None:
        self._seen[role] = key
        self.last_refused = RefusedPackage(
            path=str(path), reason=f"{role}: {reason}", refused_at=datetime.now(UTC)
        )
        self.metrics.model_refusals.inc()
        logger.error(
            "refused %s package %s: %s",
            role,
            path,
            reason,
            extra={"event": "model_refused", "role": role, "package": str(path), "reason": reason},
        )

    def start(self, poll_seconds: float) -> None:
        def loop() -> None:
            while not self._stop.wait(poll_seconds):
                try:
                    self.refresh()
                except Exception:  # the watcher must survive anything a bad file can cause
                    logger.exception("model refresh failed")

        self._thread = threading.Thread(target=loop, name="model-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
