"""Stage 7: log the run to MLflow and register the model version.

Everything a reviewer or an auditor needs sits on the run: parameters, metrics, slice and fairness
tables, plots, the model card, the gate verdict, the reference dataset and the model package that
promotion publishes. The registered version carries a tensor signature and an input example; alias
`challenger` is set afterwards (promotion.register_challenger), only when the stored gate passed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from steelthread_training.candidate import Candidate
from steelthread_training.config import TrainingConfig
from steelthread_training.frame import LABEL, MODEL_FEATURES, SERVICE, SLICE_COLUMNS
from steelthread_training.model_card import model_card
from steelthread_training.models import matrix
from steelthread_training.package import write_run_package
from steelthread_training.plots import calibration_plot, importance_plot, pr_plot, roc_plot
from steelthread_training.smoke import smoke_document
from steelthread_training.tracking import GATE_ARTIFACT, PACKAGE_ARTIFACT, Registry, quiet
from steelthread_training.validation import ValidationReport


@dataclass(frozen=True)
class Registered:
    run_id: str
    version: str
    gate_passed: bool
    package_dir: Path
    """The package as logged (in a temporary folder that lives as long as the caller keeps it)."""


def _metrics(candidate: Candidate) -> dict[str, float]:
    out: dict[str, float] = {}
    for prefix, evaluation in (("test", candidate.evaluation), ("baseline.test", candidate.baseline_eval)):
        for key, value in evaluation.metrics.as_dict().items():
            out[f"{prefix}.{key}"] = value
    out["threshold"] = candidate.evaluation.threshold
    out["review_threshold"] = candidate.review_threshold
    if candidate.evaluation.fairness is not None:
        out["fairness.approval_ratio"] = candidate.evaluation.fairness.ratio
    out["parity.max_abs_diff"] = candidate.parity.max_abs_diff
    out["parity.quantile_abs_diff"] = candidate.parity.quantile_abs_diff
    out["parity.rows_over_tolerance"] = float(candidate.parity.rows_over_tolerance)
    out["info.logreg_all_features.roc_auc"] = candidate.full_logreg_roc_auc
    out["gate.passed"] = float(candidate.verdict.passed)
    out["best_iteration"] = float(candidate.lightgbm.params["best_iteration"])
    return {k: v for k, v in out.items() if np.isfinite(v)}


def package_metrics(candidate: Candidate) -> dict[str, float]:
    m = candidate.evaluation.metrics
    return {
        "roc_auc": m.roc_auc,
        "pr_auc": m.pr_auc,
        "log_loss": m.log_loss,
        "brier": m.brier,
        "approval_rate": m.approval_rate,
        "baseline_roc_auc": candidate.baseline_eval.metrics.roc_auc,
        "parity_max_abs_diff": candidate.parity.max_abs_diff,
        "test_rows": float(m.rows),
    }


def log_and_register(
    registry: Registry,
    candidate: Candidate,
    *,
    config: TrainingConfig,
    seed: int,
    tags: dict[str, str],
    validation: ValidationReport,
    workdir: Path,
) -> Registered:
    import mlflow
    import mlflow.onnx
    import onnx
    import onnxruntime as ort
    from mlflow.models import infer_signature

    mlflow.set_tracking_uri(registry.uri)  # the fluent API is global; make sure it is this registry
    experiment_id = registry.experiment_id()
    split_info = candidate.split.describe()
    with quiet(), mlflow.start_run(experiment_id=experiment_id, run_name=f"lightgbm-seed{seed}") as run:
        run_id = run.info.run_id
        params: dict[str, Any] = {f"lightgbm.{k}": v for k, v in candidate.lightgbm.params.items()}
        params |= {f"baseline.{k}": v for k, v in candidate.baseline.params.items()}
        params |= {f"split.{k}.rows": v["rows"] for k, v in split_info.items()}
        params |= {"seed": seed, "feature_service": SERVICE, "features": len(MODEL_FEATURES)}
        params |= {f"threshold.{k}": v for k, v in config.threshold.model_dump().items()}
        mlflow.log_params(params)
        mlflow.log_metrics(_metrics(candidate))
        gate_word = "passed" if candidate.verdict.passed else "refused"
        mlflow.set_tags({**tags, "tree_hash": candidate.tree_hash, "gate": gate_word})

        y = candidate.split.test[LABEL].to_numpy()
        scores = {"lightgbm": candidate.test_scores, "baseline": candidate.baseline_test_scores}
        mlflow.log_text(candidate.verdict.to_json(), GATE_ARTIFACT)
        mlflow.log_text(json.dumps(validation.as_dict(), indent=2), "validation.json")
        mlflow.log_text(json.dumps(split_info, indent=2), "split.json")
        mlflow.log_text(candidate.evaluation.slice_frame().to_csv(index=False), "evaluation/slices.csv")
        mlflow.log_text(
            candidate.baseline_eval.slice_frame().to_csv(index=False), "evaluation/baseline_slices.csv"
        )
        fairness = candidate.evaluation.fairness
        fairness_doc: Any = asdict(fairness) if fairness else None
        if candidate.evaluation.protected is None:
            fairness_doc = {"applicable": False, "note": "the use case declares no protected attribute"}
        mlflow.log_text(json.dumps(fairness_doc, indent=2), "evaluation/fairness.json")
        mlflow.log_text(candidate.evaluation.calibration.to_csv(index=False), "evaluation/calibration.csv")
        mlflow.log_text(json.dumps(candidate.parity.as_dict(), indent=2), "evaluation/parity.json")
        mlflow.log_text(candidate.importance.to_csv(index=False), "evaluation/importance.csv")
        plots = workdir / "plots"
        plots.mkdir(parents=True, exist_ok=True)
        (plots / "roc.png").write_bytes(roc_plot(y, scores))
        (plots / "pr.png").write_bytes(pr_plot(y, scores))
        (plots / "calibration.png").write_bytes(
            calibration_plot(
                {
                    "lightgbm": candidate.evaluation.calibration,
                    "baseline": candidate.baseline_eval.calibration,
                }
            )
        )
        (plots / "importance.png").write_bytes(importance_plot(candidate.importance))
        mlflow.log_artifacts(str(plots), "plots")
        card = model_card(
            name=registry.model_name,
            feature_service=SERVICE,
            feature_names=list(MODEL_FEATURES),
            candidate=candidate.evaluation,
            baseline=candidate.baseline_eval,
            verdict=candidate.verdict,
            split=split_info,
            tags=tags,
            review_threshold=candidate.review_threshold,
        )
        mlflow.log_text(card, "model_card.md")
        mlflow.log_text(candidate.lightgbm.model.model_to_string(), "native/lightgbm.txt")

        manifest = {
            "name": registry.model_name,
            "feature_names": list(MODEL_FEATURES),
            "threshold": candidate.evaluation.threshold,
            "review_threshold": candidate.review_threshold,
            "feature_service": SERVICE,
            "run_id": run_id,
            "created_at": datetime.now(UTC).isoformat(),
            "metrics": package_metrics(candidate),
            "slice_columns": [c for c in SLICE_COLUMNS if c in candidate.split.test.columns],
            "seed": seed,
            "tree_hash": candidate.tree_hash,
            "data_fingerprint": tags.get("data_fingerprint", ""),
            "git_sha": tags.get("git_sha", ""),
        }
        package_dir = write_run_package(
            workdir / PACKAGE_ARTIFACT,
            onnx_bytes=candidate.onnx_bytes,
            reference=candidate.reference(),
            smoke=smoke_document(candidate.smoke_scores),
            manifest=manifest,
        )
        mlflow.log_artifacts(str(package_dir), PACKAGE_ARTIFACT)

        test_x = matrix(candidate.split.test)
        complete = test_x[~np.isnan(test_x).any(axis=1)][:5]
        example = (complete if len(complete) else np.nan_to_num(test_x[:5])).astype(np.float32)
        example_out = np.stack(
            [1.0 - candidate.test_scores[: len(example)], candidate.test_scores[: len(example)]], 1
        )
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
            info.model_uri, run_id, info.model_id, tags={"gate": gate_word, "run_id": run_id}
        )
        mlflow.set_tag("registered_version", version)
    return Registered(
        run_id=run_id, version=version, gate_passed=candidate.verdict.passed, package_dir=package_dir
    )
