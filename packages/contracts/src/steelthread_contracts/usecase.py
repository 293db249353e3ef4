"""The use-case seam: what a use case declares, and the registry the plumbing finds it through.

A use case is one folder (`usecases/<name>/`, a workspace member) whose package registers a `UseCase`
under the entry-point group `steelthread.usecases`. It declares everything the plumbing must not
hard-code: the entity and join key, the request fields with types and ranges, the tables and their
time and label columns, the feature views and the request-time transform, the data generator and its
drift scenarios, slices and an optional protected attribute, the task, the smoke cases, the decision
policy and the human texts. The plumbing (`apps/*`, `packages/training`, `packages/features`) reads
those names from `active()` and never imports a use-case package: the registry does, by name.

This module is data and a lookup, nothing more (pydantic and the standard library): serving imports it
on its request path. Code a use case provides (the transform, the generator) is named by an import path
(`"package.module:function"`) and loaded only by the part that calls it, so serving never imports the
generator's pandas.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Final, Literal

from steelthread_contracts.decision import DecisionPolicy
from steelthread_contracts.package import Task

ENTRY_POINT_GROUP: Final = "steelthread.usecases"
USECASE_ENV: Final = "STEELTHREAD_USECASE"
DEFAULT_USECASE: Final = "credit"
"""The shipped example a fresh clone runs; a fork changes this one line (or sets the variable)."""

FieldKind = Literal["number", "integer", "choice"]
Scalar = float | int | str


class UseCaseError(LookupError):
    """No such use case, or a declaration that contradicts itself; the message says which, in one line."""


@dataclass(frozen=True)
class RequestField:
    """One field the consuming application sends at decision time (besides the entity key).

    `number` is a strict float (`"5"` is refused), `integer` a whole number, `choice` one of `choices`
    (strings become an enum named `enum_name` in the API schema; integers a literal set).
    """

    name: str
    kind: FieldKind
    description: str = ""
    """The field's description in the API document (empty: none)."""
    example: Scalar | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Scalar, ...] = ()
    enum_name: str | None = None
    stored_as: Literal["float64", "int64", "string"] | None = None
    """Type in the applications table and Feast's request source (default from `kind`)."""

    @property
    def storage(self) -> Literal["float64", "int64", "string"]:
        if self.stored_as is not None:
            return self.stored_as
        if self.kind == "number":
            return "float64"
        if self.kind == "integer" or all(isinstance(c, int) for c in self.choices):
            return "int64"
        return "string"

    def accepts(self, value: object) -> bool:
        """The same rule the API's request model applies, for a value that did not come through it
        (batch files, replayed logs). None is never accepted: a field is required."""
        if self.kind == "choice":
            return not isinstance(value, bool) and value in self.choices
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            return False
        if self.kind == "integer" and not number.is_integer():
            return False
        return (
            (self.ge is None or number >= self.ge)
            and (self.gt is None or number > self.gt)
            and (self.le is None or number <= self.le)
            and (self.lt is None or number < self.lt)
        )

    def rule(self) -> str:
        """The accepted values in words, for error messages and docs."""
        if self.kind == "choice":
            return "one of " + ", ".join(map(str, self.choices))
        bounds = [
            f"{op} {v:g}"
            for op, v in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt))
            if v is not None
        ]
        return ("a whole number" if self.kind == "integer" else "a number") + (
            " " + " and ".join(bounds) if bounds else ""
        )


@dataclass(frozen=True)
class Entity:
    name: str
    join_key: str
    description: str
    example: int = 1
    max_key: int = 2**53


@dataclass(frozen=True)
class FeatureView:
    """A batch feature view over one table of the use case (one Feast FeatureView).

    `features` are model inputs (float64) in the model's order; `strings` are stored string columns
    (inputs of the request-time transform, e.g. a category it one-hot encodes); `slices` are stored
    attributes for evaluation slices and fairness, never model inputs.
    """

    name: str
    table: str
    ttl: timedelta
    description: str
    features: tuple[str, ...] = ()
    strings: tuple[str, ...] = ()
    slices: tuple[str, ...] = ()
    model_features: tuple[str, ...] | None = None
    """The subset of `features` the feature service serves to the model (default: all of them)."""
    read_budget_ms: float | None = None
    """What one entity's online read of this view may cost (p99, milliseconds): bench/bench_features.py
    times each view in each online store and fails its run over budget (None: timed, not judged)."""

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.features, *self.strings, *self.slices)

    @property
    def served(self) -> tuple[str, ...]:
        return self.features if self.model_features is None else self.model_features


@dataclass(frozen=True)
class OnDemandView:
    """The request-time transform: request fields plus some stored columns in, float64 features out.

    `frame` maps a pandas frame (request fields and `stored_inputs` as columns) to a frame of `features`
    (Feast's on-demand view runs it offline and online); `row` computes one row as a list of floats in
    `features` order from keyword arguments (serving's path, without pandas). Both are import paths.
    """

    name: str
    request_source: str
    features: tuple[str, ...]
    stored_inputs: tuple[str, ...]
    frame: str
    row: str
    freshness: dict[str, str] = field(default_factory=dict)
    """Output feature -> the batch view whose freshness it depends on (request-only ones: none)."""
    budget_ms: float | None = None
    """What computing one request's row may cost (p99, milliseconds); judged as `read_budget_ms` is."""


@dataclass(frozen=True)
class Tables:
    """The tables the generator writes and training reads (parquet folders under the data dir)."""

    events: str
    """One row per decision request: request id, entity key, event time, the request fields."""
    labels: str
    event_time: str
    label: str
    """Column of the labels table holding the observed outcome."""
    label_time: str
    request_id: str = "request_id"
    event_timestamp: str = "event_timestamp"
    created_timestamp: str = "created_timestamp"


@dataclass(frozen=True)
class SmokeCase:
    """A fixed input whose score any acceptable model must place inside `bounds`."""

    name: str
    why: str
    inputs: dict[str, Scalar | None]
    bounds: tuple[float, float]


@dataclass(frozen=True)
class ReasonText:
    """One reason code of an adverse decision: the model features it covers and the text a notice states.

    The text names the factor the model actually scored (as adverse-action notices require), never a
    guess at a cause: "Proportion of available credit in use", not "too much debt". The features of one
    reason are scored as one factor (a category's one-hot columns, a value and its missing flag), so their
    contributions are added before reasons are ranked (`steelthread_contracts.explain.reason_codes`).
    """

    code: str
    text: str
    features: tuple[str, ...]


@dataclass(frozen=True)
class PersonalField:
    """A personal field (the entity key, a request field or a model feature) and how records keep it:
    `hash` (the entity key only: a keyed pseudonym), `drop` (never written) or `keep` (tagged, kept on
    purpose). `steelthread_contracts.privacy` applies it; `why` says what makes it personal."""

    name: str
    handling: Literal["hash", "drop", "keep"]
    why: str


@dataclass(frozen=True)
class Texts:
    api_title: str
    api_description: str
    score_field: str
    """Name of the score in the v1 answer (the credit example keeps `probability_of_default`)."""
    score_description: str
    """The score's description in the API document (empty: none)."""
    label_description: str
    request_description: str
    predict_description: str = "The model's score for one request, and the decision that follows from it."
    """What `POST /v1/predictions` answers, in the API document."""
    batch_description: str = (
        "Up to `MAX_BATCH_SIZE` requests in one call; each is answered and logged as if sent alone."
    )
    feedback_description: str = "An outcome that was observed after the decision."
    """The feedback record's description in the API document."""


@dataclass(frozen=True)
class UseCase:
    """Everything domain-specific about one model; see the module docstring."""

    name: str
    task: Task
    entity: Entity
    request_fields: tuple[RequestField, ...]
    tables: Tables
    views: tuple[FeatureView, ...]
    on_demand: OnDemandView
    feature_service: str
    slice_service: str
    generator: str
    """Import path of the generator module: `generate(rows, seed=, scenario=, end=, days=)`, `write(data,
    out) -> {table: path}`, `read(data_dir, table) -> DataFrame`, `TABLES`, `DEFAULT_END`, `DEFAULT_DAYS`
    (`steelthread_features.generator` re-exports them)."""
    scenarios: dict[str, str]
    """Drift scenario name -> what it changes, in words (the generator implements them)."""
    slices: tuple[str, ...]
    """Evaluation slice columns (stored slices and derived ones)."""
    protected_attribute: str | None
    smoke_cases: tuple[SmokeCase, ...]
    smoke_ordering: tuple[str, ...]
    """Smoke case names whose scores must rise in this order (empty: no ordering check)."""
    texts: Texts
    training_config: Path
    project: str = "steelthread"
    policy: DecisionPolicy = field(default_factory=DecisionPolicy)
    derived_slices: str | None = None
    """Import path of `(frame, config) -> frame` adding derived slice columns to the training frame."""
    score_range: tuple[float, float] = (0.0, 1.0)
    demo_scenario: str | None = None
    """The drift scenario `make demo` injects (default: the first of `scenarios`)."""
    classes: tuple[str, ...] = ()
    """Class names of a multiclass task, in the model's output order: what `/v1/feedback` accepts as the
    observed label (empty for other tasks)."""
    label_delay: timedelta = timedelta(0)
    """How long after a prediction its label can be expected to have arrived (the generator's longest
    delay between an event and its label). Monitoring evaluates performance on the predictions logged
    before `now - label_delay`, the latest cohort whose labels have had time to arrive (zero: labels
    arrive with the prediction, and the recent window is that cohort)."""
    reasons: tuple[ReasonText, ...] = ()
    """Reason codes for adverse decisions: every model feature in exactly one (empty: each feature is its
    own reason, coded and worded by its name, which a fork should replace before it explains decisions)."""
    personal: tuple[PersonalField, ...] = ()
    """Personal fields and how the prediction log, explanations and logs keep them (empty: nothing is
    personal, e.g. a restaurant's key)."""

    def __post_init__(self) -> None:
        names = [f.name for f in self.request_fields]
        features = self.feature_names
        for label, values in (("request field", names), ("feature", features)):
            if len(set(values)) != len(values):
                raise UseCaseError(f"use case {self.name!r}: duplicate {label} names")
        clash = set(names) & set(self.on_demand.features)
        if clash:  # Feast would overwrite the entity frame's column with the feature of the same name
            raise UseCaseError(f"use case {self.name!r}: on-demand features reuse request names {clash}")
        stored = {c for v in self.views for c in v.columns}
        missing = [c for c in self.on_demand.stored_inputs if c not in stored]
        if missing:
            raise UseCaseError(f"use case {self.name!r}: transform reads unknown stored columns {missing}")
        if self.protected_attribute is not None and self.protected_attribute not in self.stored_slices:
            raise UseCaseError(f"use case {self.name!r}: protected attribute is not a stored slice")
        if self.label_delay < timedelta(0):
            raise UseCaseError(f"use case {self.name!r}: label_delay is negative")
        self._check_reasons(features)
        self._check_personal(names, features)

    def _check_personal(self, names: list[str], features: tuple[str, ...]) -> None:
        """Each tag names a real field once; only the entity key can be hashed (into an integer key)."""
        tagged = [p.name for p in self.personal]
        if len(set(tagged)) != len(tagged):
            raise UseCaseError(f"use case {self.name!r}: a personal field is tagged twice")
        known = {self.entity.join_key, *names, *features}
        unknown = sorted(set(tagged) - known)
        if unknown:
            raise UseCaseError(f"use case {self.name!r}: personal fields name unknown fields {unknown}")
        hashed = [p.name for p in self.personal if p.handling == "hash" and p.name != self.entity.join_key]
        if hashed:
            raise UseCaseError(f"use case {self.name!r}: only the entity key can be hashed, not {hashed}")
        if any(p.handling == "drop" and p.name == self.entity.join_key for p in self.personal):
            raise UseCaseError(f"use case {self.name!r}: the entity key is hashed or kept, never dropped")

    def _check_reasons(self, features: tuple[str, ...]) -> None:
        """Every model feature has exactly one reason: a feature without one could push a decision towards
        decline and never be named, which a notice must not hide."""
        if not self.reasons:
            return
        codes = [r.code for r in self.reasons]
        if len(set(codes)) != len(codes):
            raise UseCaseError(f"use case {self.name!r}: duplicate reason codes")
        covered = [f for r in self.reasons for f in r.features]
        unknown = sorted(set(covered) - set(features))
        twice = sorted({f for f in covered if covered.count(f) > 1})
        missing = [f for f in features if f not in covered]
        for problem, names in (("unknown", unknown), ("twice", twice), ("without a reason", missing)):
            if names:
                raise UseCaseError(f"use case {self.name!r}: reason features {problem}: {names}")

    @property
    def join_key(self) -> str:
        return self.entity.join_key

    @property
    def request_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.request_fields)

    def request_field(self, name: str) -> RequestField:
        for f in self.request_fields:
            if f.name == name:
                return f
        raise UseCaseError(f"use case {self.name!r} has no request field {name!r}")

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The model's input columns in tensor order: each view's served features, then the transform's."""
        return (*(f for v in self.views for f in v.served), *self.on_demand.features)

    @property
    def reason_texts(self) -> tuple[ReasonText, ...]:
        """The declared reasons, or one per feature named after it when the use case declares none."""
        if self.reasons:
            return self.reasons
        return tuple(ReasonText(code=f, text=f, features=(f,)) for f in self.feature_names)

    @property
    def stored_slices(self) -> tuple[str, ...]:
        return tuple(c for v in self.views for c in v.slices)

    def view(self, name: str) -> FeatureView:
        for v in self.views:
            if v.name == name:
                return v
        raise UseCaseError(f"use case {self.name!r} has no feature view {name!r}")

    def view_of(self, column: str) -> FeatureView:
        for v in self.views:
            if column in v.columns:
                return v
        raise UseCaseError(f"use case {self.name!r}: no feature view stores {column!r}")

    @property
    def freshness(self) -> dict[str, str]:
        """Model feature -> batch view whose TTL governs it (request-only features are absent)."""
        out = {f: v.name for v in self.views for f in v.served}
        return out | dict(self.on_demand.freshness)

    @property
    def tables_to_generate(self) -> tuple[str, ...]:
        return (*(v.table for v in self.views), self.tables.events, self.tables.labels)


def _import(path: str) -> object:
    module_name, _, attribute = path.partition(":")
    try:
        found: object = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise UseCaseError(f"cannot load {path!r}: {exc}") from None
    return found


def load_hook(path: str) -> Callable[..., Any]:
    """The function an import path (`package.module:function`) names."""
    hook = _import(path)
    if not callable(hook):
        raise UseCaseError(f"{path!r} is not a function")
    return hook


def registered() -> dict[str, metadata.EntryPoint]:
    """Every installed use case by name."""
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


@cache
def load(name: str) -> UseCase:
    """The use case registered as `name` (checked once per process).

    `package.module:ATTRIBUTE` loads a declaration by import path instead: how tests run the plumbing
    against fixture use cases that are not installed packages (tests/fixtures/usecases).
    """
    if ":" in name:
        declared = _import(name)
        if not isinstance(declared, UseCase):
            raise UseCaseError(f"{name!r} ({USECASE_ENV}) is not a UseCase")
        return declared
    known = registered()
    if name not in known:
        raise UseCaseError(
            f"unknown use case {name!r} ({USECASE_ENV}); installed: {', '.join(sorted(known)) or 'none'}"
        )
    declared = known[name].load()
    if not isinstance(declared, UseCase) or declared.name != name:
        raise UseCaseError(f"entry point {name!r} in {ENTRY_POINT_GROUP} is not UseCase {name!r}")
    return declared


def active_name() -> str:
    return os.environ.get(USECASE_ENV, "").strip() or DEFAULT_USECASE


def active() -> UseCase:
    """The use case this process runs: `STEELTHREAD_USECASE`, default the credit example."""
    return load(active_name())
