"""Filling the evaluation store, and the promotion check that reads it.

`measure` evaluates versions on a dataset and stores what is not stored yet; `backfill` keeps a new labelled
cohort and measures every registered version on it. `champion_checks` is what `steelthread-promote` asks
before a version becomes champion: it must not be worse than the current champion, by more than the use
case's gate tolerance on the task's primary metric, on its own test set **and** on the newest labelled
production cohort in the store. A missing measurement is made (and stored) on the spot, from the stored
cohort's rows, so the check never depends on whether a backfill ran after the candidate was registered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from math import nan

from steelthread_training.config import TrainingConfig
from steelthread_training.evalstore import Dataset, DatasetInfo, EvaluationStore, StoredEvaluation
from steelthread_training.gate import ChampionComparison, GateCheck, champion_check
from steelthread_training.tasks import task_kind
from steelthread_training.tracking import Registry
from steelthread_training.versions import MissingFeaturesError, Version, loaded, require_versions

Note = Callable[[str], None]


@dataclass(frozen=True)
class Measured:
    """What one `measure` call did: evaluations (stored before or now) and versions it could not measure."""

    dataset: DatasetInfo
    stored: list[StoredEvaluation] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def measure(
    store: EvaluationStore, versions: dict[str, Version], dataset: Dataset, config: TrainingConfig
) -> Measured:
    """Each version on `dataset`, from the store when it is there, else evaluated now and stored."""
    info = dataset.info
    result = Measured(info)
    have = {e.version: e for e in store.evaluations(versions, fingerprint=info.fingerprint)}
    for version, model in versions.items():
        if version in have:
            result.stored.append(have[version])
            continue
        try:
            evaluation = model.evaluate(dataset, config)
        except MissingFeaturesError as exc:
            result.skipped[version] = str(exc)
            continue
        result.stored.append(store.record(version, info, evaluation, searched=True))
        result.new.append(version)
    return result


def backfill(
    registry: Registry,
    cohort: Dataset,
    config: TrainingConfig,
    versions: Iterable[str] | None = None,
) -> Measured:
    """Keep `cohort` in the store and measure every registered version (or those asked for) on it."""
    store = EvaluationStore(registry)
    store.save_cohort(cohort)
    with loaded(registry, require_versions(registry, versions)) as models:
        return measure(store, models, cohort, config)


def measure_test_sets(
    registry: Registry, config: TrainingConfig, versions: Iterable[str] | None = None
) -> list[Measured]:
    """Every version (or those asked for) and the champion on the version's own test set, and every
    version on the champion's test set: what each version is compared on at promotion."""
    store = EvaluationStore(registry)
    wanted = require_versions(registry, versions)
    champion = registry.alias_version("champion")
    results: list[Measured] = []
    with loaded(registry, [*wanted, *([champion] if champion else [])]) as models:
        for version in wanted:
            pair = {v: models[v] for v in dict.fromkeys([version, champion]) if v is not None}
            results.append(measure(store, pair, models[version].test_set(registry), config))
        if champion is not None:
            everyone = {v: models[v] for v in dict.fromkeys([*wanted, champion])}
            results.append(measure(store, everyone, models[champion].test_set(registry), config))
    return results


def _check(
    dataset: DatasetInfo,
    candidate: StoredEvaluation,
    champion: StoredEvaluation,
    config: TrainingConfig,
    task: str,
) -> GateCheck:
    kind = task_kind(task)
    value = champion.metrics.get(kind.primary)
    comparison = ChampionComparison(
        champion.version,
        value,
        f"champion v{champion.version} on {dataset.name} ({dataset.rows} rows, {dataset.fingerprint[:12]})",
        kind.primary,
    )
    check = champion_check(
        kind.primary,
        candidate.metrics.get(kind.primary, nan),
        comparison,
        kind.champion_tolerance(config.gate),
        higher_is_better=kind.higher_is_better,
        relative=kind.relative_champion,
    )
    return GateCheck(
        f"store.{dataset.kind}.{check.name}",
        check.value,
        check.op,
        check.threshold,
        check.passed,
        check.note,
    )


def champion_checks(
    registry: Registry,
    candidate: str,
    champion: str | None,
    config: TrainingConfig,
    on_note: Note | None = None,
) -> list[GateCheck]:
    """Candidate vs champion from the store: on the candidate's own test set and on the newest labelled
    cohort (when the store has one). No champion: nothing to compare, no check."""
    if champion is None or champion == candidate:
        return []
    store = EvaluationStore(registry)
    checks: list[GateCheck] = []
    with loaded(registry, [candidate, champion]) as models:
        task = str(models[candidate].manifest.task)
        datasets = [models[candidate].test_set(registry)]
        cohorts = store.cohorts()
        if cohorts:
            datasets.append(store.load_cohort(cohorts[0]))
        elif on_note is not None:
            on_note("evaluation store: no labelled production cohort yet (`steelthread-eval backfill`)")
        for dataset in datasets:
            measured = measure(store, models, dataset, config)
            by_version = {e.version: e for e in measured.stored}
            if candidate not in by_version or champion not in by_version:
                why = "; ".join(measured.skipped.values()) or "not measured"
                checks.append(GateCheck(f"store.{dataset.kind}.champion", None, ">=", 0.0, False, why))
                continue
            check = _check(measured.dataset, by_version[candidate], by_version[champion], config, task)
            checks.append(check)
            if on_note is not None:
                verdict = "ok" if check.passed else "WORSE"
                value = "n/a" if check.value is None else f"{check.value:.4g}"
                on_note(f"evaluation store: {check.name} = {value} ({check.rule()}): {verdict}")
    return checks
