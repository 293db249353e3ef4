"""Stage 7: log the run to MLflow and register the model version.

Everything a reviewer or an auditor needs sits on the run: parameters, metrics, slice and fairness
tables, plots, the model card, the gate verdict, the reference dataset and the model package that
promotion publishes. The registered version carries a tensor signature and an input example; alias
`challenger` is set afterwards (promotion.register_challenger), only when the stored gate passed.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from steelthread_contracts.explain import explainable
from steelthread_contracts.package import Task
from steelthread_training.candidate import Candidate
from steelthread_training.config import TrainingConfig
from steelthread_training.dataset import TrainingSet
from steelthread_training.export import INPUT_NAME
from steelthread_training.feature_value import permutation_value, without_value
from steelthread_training.frame import LABEL, REQUEST_ID, SERVICE, TIME
from steelthread_training.model_card import model_card
from steelthread_training.models import labels, matrix
from steelthread_training.package import write_run_package
from steelthread_training.smoke import SmokeSet, smoke_document
from steelthread_training.tracking import GATE_ARTIFACT, PACKAGE_ARTIFACT, Registry, quiet
from steelthread_training.tuning import TuningResult
from steelthread_training.validation import ValidationReport


@dataclass(frozen=True)
class Registered:
    run_id: str
    version: str
    gate_passed: bool
    package_dir: Path
    """The package as logged (in a temporary folder that lives as long as the caller keeps it)."""
    model_card: str = ""


def _metrics(candidate: Candidate) -> dict[str, float]:
    kind = candidate.kind
    out: dict[str, float] = {}
    for prefix, evaluation in (("test", candidate.evaluation), ("baseline.test", candidate.baseline_eval)):
        for key, value in evaluation.metrics.as_dict().items():
            out[f"{prefix}.{key}"] = value
    if candidate.evaluation.threshold is not None and candidate.review_threshold is not None:
        out["threshold"] = candidate.evaluation.threshold
        out["review_threshold"] = candidate.review_threshold
    if candidate.evaluation.fairness is not None:
        out[kind.fairness_metric()] = candidate.evaluation.fairness.ratio
    out["parity.max_abs_diff"] = candidate.parity.max_abs_diff
    out["parity.quantile_abs_diff"] = candidate.parity.quantile_abs_diff
    out["parity.rows_over_tolerance"] = float(candidate.parity.rows_over_tolerance)
    info = "logreg_all_features" if candidate.task is Task.BINARY else "baseline_all_features"
    out[f"info.{info}.{kind.primary}"] = candidate.full_baseline_metric
    out["gate.passed"] = float(candidate.verdict.passed)
    out["best_iteration"] = float(candidate.lightgbm.params["best_iteration"])
    return {k: v for k, v in out.items() if np.isfinite(v)}


def package_metrics(candidate: Candidate) -> dict[str, float]:
    """package.json's `metrics`: the task's test-set metrics, parity and the test set's size."""
    return {
        **candidate.kind.package_metrics(candidate.evaluation, candidate.baseline_eval),
        "parity_max_abs_diff": candidate.parity.max_abs_diff,
        "test_rows": float(candidate.evaluation.metrics.rows),
    }


def onnx_signature(candidate: Candidate) -> dict[str, Any]:
    """The manifest's `onnx` block: the graph's input, its output and where the score is in it."""
    return {
        "input": INPUT_NAME,
        "output": candidate.onnx_output,
        "positive_class_index": candidate.score_column,
    }


def manifest_fields(
    candidate: Candidate, *, name: str, run_id: str, seed: int, tags: dict[str, str]
) -> dict[str, Any]:
    """The run manifest (package.json before the registry gives it a version), without `onnx` and hashes."""
    fields: dict[str, Any] = {
        "name": name,
        "task": candidate.task.value,
        "feature_names": list(candidate.spec.features),
        "threshold": candidate.evaluation.threshold,
        "review_threshold": candidate.review_threshold,
        "feature_service": SERVICE,
        "run_id": run_id,
        "created_at": datetime.now(UTC).isoformat(),
        "metrics": package_metrics(candidate),
        "slice_columns": [c for c in candidate.spec.slices if c in candidate.split.test.columns],
        "score": candidate.score_description,
        "seed": seed,
        "tree_hash": candidate.tree_hash,
        "data_fingerprint": tags.get("data_fingerprint", ""),
        "git_sha": tags.get("git_sha", ""),
    }
    if candidate.classes is not None:
        fields["classes"] = list(range(candidate.classes))
    return fields


def run_name(model_name: str, candidate: Candidate, seed: int, fingerprint: str) -> str:
    """What a reader of the runs list needs: model, data (fingerprint prefix), seed, tuned or not."""
    data = f"-data-{fingerprint[:8]}" if fingerprint else ""
    tuned = "-tuned" if candidate.tuning is not None else ""
    return f"train-{model_name}{data}-seed{seed}{tuned}"


def log_dataset(training_set: TrainingSet, candidate: Candidate) -> None:
    """The training frame (ids, time, features, label; every split) as the run's MLflow dataset input,
    with its fingerprint: the same fingerprint, the same rows."""
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas

    columns = [REQUEST_ID, TIME, *candidate.spec.features, LABEL]
    frame = training_set.frame[[c for c in columns if c in training_set.frame.columns]]
    with warnings.catch_warnings():
        # MLflow registers the local artifact source twice (its `file` scheme and the bare path) and warns
        # that a path "can be interpreted in multiple ways"; both readings are the same local source.
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
        dataset = from_pandas(
            frame,
            source=training_set.source,
            targets=LABEL,
            name=f"{SERVICE}-training-{training_set.fingerprint[:12]}",
        )
    mlflow.log_input(dataset, context="training", tags={"fingerprint": training_set.fingerprint})


def log_tuning(tuning: TuningResult) -> None:
    """The search on the active (parent) run: its summary, the best parameters (also the `lightgbm.*`
    params the final model was fitted with) and one child run per trial."""
    import mlflow

    mlflow.log_params(
        {f"tuning.best.{k}": v for k, v in tuning.best_params.items()}
        | {"tuning.trials": len(tuning.trials), "tuning.holdout_rows": tuning.holdout_rows}
    )
    mlflow.log_metric(f"tuning.best.{tuning.metric}", tuning.best.value)
    mlflow.set_tags({"tuning.best_trial": str(tuning.best.number), "tuning.direction": tuning.direction})
    mlflow.log_text(json.dumps(tuning.as_dict(), indent=2), "tuning.json")
    parent = mlflow.active_run()
    experiment_id = parent.info.experiment_id if parent is not None else None
    for trial in tuning.trials:
        # In the parent's experiment: a nested run otherwise goes to the default (the active) one.
        with mlflow.start_run(run_name=f"trial-{trial.number:03d}", nested=True, experiment_id=experiment_id):
            mlflow.log_params(trial.params)
            mlflow.log_metrics(
                {
                    f"holdout.{tuning.metric}": trial.value,
                    "best_iteration": float(trial.best_iteration),
                    "seconds": trial.seconds,
                }
            )
            mlflow.set_tags(
                {
                    "tuning.trial": str(trial.number),
                    "tuning.best": str(trial.number == tuning.best.number).lower(),
                }
            )


def log_feature_value(candidate: Candidate, y: np.ndarray, *, config: TrainingConfig, seed: int) -> list[str]:
    """Permutation importance on the test slice (steelthread_training.feature_value), logged as
    `evaluation/permutation_importance.csv`, the metric `features_without_value` and the tag of the same
    name listing them (`none` when every feature earns its place); returns the flagged features."""
    import mlflow

    kind = candidate.kind
    table = permutation_value(
        candidate.lightgbm,
        candidate.split.test,
        y,
        lambda labels_, predicted: kind.primary_value(labels_, predicted, config),
        higher_is_better=kind.higher_is_better,
        seed=seed,
        features=candidate.spec.features,
    )
    flagged = without_value(table)
    mlflow.log_text(table.to_csv(index=False), "evaluation/permutation_importance.csv")
    mlflow.log_metric("features_without_value", len(flagged))
    mlflow.set_tag("features_without_value", ",".join(flagged) or "none")
    return flagged


def log_and_register(
    registry: Registry,
    candidate: Candidate,
    *,
    config: TrainingConfig,
    seed: int,
    tags: dict[str, str],
    validation: ValidationReport,
    workdir: Path,
    training_set: TrainingSet | None = None,
) -> Registered:
    import mlflow
    import mlflow.onnx
    import onnx
    import onnxruntime as ort
    from mlflow.models import infer_signature

    mlflow.set_tracking_uri(registry.uri)  # the fluent API is global; make sure it is this registry
    experiment_id = registry.experiment_id()
    split_info = candidate.split.describe()
    name = run_name(registry.model_name, candidate, seed, tags.get("data_fingerprint", ""))
    with quiet(), mlflow.start_run(experiment_id=experiment_id, run_name=name) as run:
        run_id = run.info.run_id
        if training_set is not None:
            log_dataset(training_set, candidate)
        params: dict[str, Any] = {f"lightgbm.{k}": v for k, v in candidate.lightgbm.params.items()}
        params |= {f"baseline.{k}": v for k, v in candidate.baseline.params.items()}
        params |= {f"split.{k}.rows": v["rows"] for k, v in split_info.items()}
        params |= {"seed": seed, "feature_service": SERVICE, "features": len(candidate.spec.features)}
        if candidate.task is Task.BINARY:
            params |= {f"threshold.{k}": v for k, v in config.threshold.model_dump().items()}
        mlflow.log_params(params)
        mlflow.log_metrics(_metrics(candidate))
        gate_word = "passed" if candidate.verdict.passed else "refused"
        mlflow.set_tags(
            {**tags, "tree_hash": candidate.tree_hash, "gate": gate_word, "task": candidate.task.value}
        )

        y = labels(candidate.split.test, candidate.task)
        scores = {"lightgbm": candidate.test_scores, "baseline": candidate.baseline_test_scores}
        mlflow.log_text(candidate.verdict.to_json(), GATE_ARTIFACT)
        mlflow.log_text(json.dumps(validation.as_dict(), indent=2), "validation.json")
        mlflow.log_text(json.dumps(split_info, indent=2), "split.json")
        mlflow.log_text(candidate.evaluation.slice_frame().to_csv(index=False), "evaluation/slices.csv")
        mlflow.log_text(
            candidate.baseline_eval.slice_frame().to_csv(index=False), "evaluation/baseline_slices.csv"
        )
        fairness = candidate.evaluation.fairness
        fairness_doc: Any = asdict(fairness) if fairness else None  # type: ignore[call-overload]
        if candidate.evaluation.protected is None:
            fairness_doc = {"applicable": False, "note": "the use case declares no protected attribute"}
        mlflow.log_text(json.dumps(fairness_doc, indent=2), "evaluation/fairness.json")
        if candidate.task is Task.MULTICLASS:
            mlflow.log_text(candidate.evaluation.calibration.to_csv(), "evaluation/confusion.csv")
        else:
            mlflow.log_text(
                candidate.evaluation.calibration.to_csv(index=False), "evaluation/calibration.csv"
            )
        mlflow.log_text(json.dumps(candidate.parity.as_dict(), indent=2), "evaluation/parity.json")
        mlflow.log_text(candidate.importance.to_csv(index=False), "evaluation/importance.csv")
        log_feature_value(candidate, y, config=config, seed=seed)
        plots = workdir / "plots"
        plots.mkdir(parents=True, exist_ok=True)
        figures = candidate.kind.plots(
            y,
            scores,
            {"lightgbm": candidate.evaluation, "baseline": candidate.baseline_eval},
            candidate.importance,
        )
        for file_name, png in figures.items():
            (plots / file_name).write_bytes(png)
        mlflow.log_artifacts(str(plots), "plots")
        card = model_card(
            name=registry.model_name,
            feature_service=SERVICE,
            feature_names=list(candidate.spec.features),
            candidate=candidate.evaluation,
            baseline=candidate.baseline_eval,
            verdict=candidate.verdict,
            split=split_info,
            tags=tags,
            review_threshold=candidate.review_threshold,
            gate=config.gate,
            score=candidate.score_description,
        )
        mlflow.log_text(card, "model_card.md")
        mlflow.log_text(candidate.lightgbm.model.model_to_string(), "native/lightgbm.txt")
        if candidate.tuning is not None:
            log_tuning(candidate.tuning)

        manifest = manifest_fields(candidate, name=registry.model_name, run_id=run_id, seed=seed, tags=tags)
        booster = candidate.lightgbm.model.model_to_string()
        package_dir = write_run_package(
            workdir / PACKAGE_ARTIFACT,
            onnx_bytes=candidate.onnx_bytes,
            reference=candidate.reference(),
            smoke=smoke_document(candidate.smoke_scores, candidate.smoke or SmokeSet.of_use_case()),
            manifest=manifest,
            onnx=onnx_signature(candidate),
            booster=booster if explainable(booster) else None,
        )
        mlflow.log_artifacts(str(package_dir), PACKAGE_ARTIFACT)

        test_x = matrix(candidate.split.test, candidate.spec.features)
        complete = ~np.isnan(test_x).any(axis=1)
        rows = np.flatnonzero(complete)[:5] if complete.any() else np.arange(min(5, len(test_x)))
        example = np.nan_to_num(test_x[rows]).astype(np.float32)
        example_out = candidate.kind.onnx_example(candidate.test_predictions[rows])
        signature = infer_signature(example, example_out.astype(np.float32))
        info = mlflow.onnx.log_model(
            onnx.load_from_string(candidate.onnx_bytes),
            name="model",
            signature=signature,
            input_example=example,
            pip_requirements=[f"onnx=={onnx.__version__}", f"onnxruntime=={ort.__version__}"],
            onnx_execution_providers=["CPUExecutionProvider"],
        )
        version = registry.register(
            info.model_uri,
            run_id,
            info.model_id,
            tags={"gate": gate_word, "run_id": run_id},
            description=card,
        )
        mlflow.set_tag("registered_version", version)
    return Registered(
        run_id=run_id,
        version=version,
        gate_passed=candidate.verdict.passed,
        package_dir=package_dir,
        model_card=card,
    )
