"""Stage 6: the LightGBM model as ONNX, and proof that the export scores like the original.

Serving loads only the ONNX file, so the export must be checked on every test row, not on a sample: a
converter bug that flips a split shows up on a few rows only. ONNX stores split thresholds as float32, so
a handful of rows per million legitimately land on the other side of a split; the parity check therefore
gates on a high quantile of the difference plus a small count of rows over a per-row tolerance, and
reports the maximum (see training.yaml for the numbers and the measurement behind them).

Per task (`steelthread_contracts.package.Task`): a classifier's graph keeps one output, `probabilities`
[N, K] (binary: K = 2, the score is column 1); a regressor's graph has one output, `variable` [N, 1], the
predicted label itself. Probabilities are compared in absolute terms; a regression's predictions, whose
scale is the label's (float32 moves large predictions by more than a probability's tolerance while the
relative difference stays small: ARCHITECTURE.md, "Measured pitfalls"), relative to max(|native|,
`parity.relative_floor`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

import numpy as np

from steelthread_contracts.package import Task
from steelthread_training.config import ParityConfig
from steelthread_training.frame import USE_CASE
from steelthread_training.models import TrainedModel

INPUT_NAME: Final = "features"
OUTPUT_NAME: Final = "probabilities"
"""A classifier's output: [N, K] class probabilities."""
REGRESSION_OUTPUT: Final = "variable"
"""A regressor's output as onnxmltools names it: [N, 1] predictions."""
POSITIVE_CLASS_INDEX: Final = 1
TARGET_OPSET: Final = 15
Scale = Literal["absolute", "relative"]


def output_name(task: Task) -> str:
    return REGRESSION_OUTPUT if task is Task.REGRESSION else OUTPUT_NAME


@dataclass(frozen=True)
class ParityReport:
    rows: int
    max_abs_diff: float
    quantile: float
    quantile_abs_diff: float
    quantile_tolerance: float
    rows_over_tolerance: int
    allowed_rows_over: int
    row_tolerance: float
    passed: bool
    reasons: tuple[str, ...]
    scale: Scale = "absolute"
    """How a row's difference was measured (the `*_abs_diff` fields hold relative ones when relative)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def to_onnx(model: TrainedModel, *, score: str | None = None) -> Any:
    """Convert the booster: one float32 input `features` [N, F] and one output, `probabilities` [N, K]
    (classifiers) or `variable` [N, 1] (regressors). `score` says in words what the package's score is
    (the graph's doc string); default: binary P(label 1), regression the predicted label.

    For a classifier the converter also emits a `label` output whose declared shape is wrong ([1] for N
    rows, which makes onnxruntime warn on every call); decisions come from the score, so it is dropped.
    """
    import onnx
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    n = len(model.feature_names)
    wanted = output_name(model.task)
    onx = convert_lightgbm(
        model.model,
        name=f"steelthread-{USE_CASE.name}",
        initial_types=[(INPUT_NAME, FloatTensorType([None, n]))],
        zipmap=False,
        target_opset=TARGET_OPSET,
    )
    outputs = [o for o in onx.graph.output if o.name == wanted]
    if len(outputs) != 1:
        names = ", ".join(o.name for o in onx.graph.output)
        raise RuntimeError(f"ONNX converter produced outputs [{names}], expected {wanted!r}")
    del onx.graph.output[:]
    onx.graph.output.extend(outputs)
    if score is None:
        score = (
            f"{wanted}[:, 0] = predicted label"
            if model.task is Task.REGRESSION
            else f"{wanted}[:, {POSITIVE_CLASS_INDEX}] = {USE_CASE.texts.score_field}"
        )
    onx.doc_string = f"steelthread {USE_CASE.name} LightGBM ({model.task}); {score}"
    onnx.checker.check_model(onx)
    return onx


def onnx_session(model_bytes: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model_bytes, sess_options=options, providers=["CPUExecutionProvider"])


def onnx_outputs(session: Any, x: np.ndarray, output: str = OUTPUT_NAME, batch: int = 65_536) -> np.ndarray:
    """The named output for every row (float32 input, as serving sends it), as a float64 [N, K] array."""
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    parts = [
        np.asarray(session.run([output], {INPUT_NAME: x32[i : i + batch]})[0])
        for i in range(0, len(x32), batch)
    ]
    if not parts:
        return np.zeros((0, 1))
    out = np.concatenate(parts).astype(np.float64)
    return out.reshape(len(out), -1)


def onnx_scores(
    session: Any,
    x: np.ndarray,
    batch: int = 65_536,
    *,
    output: str = OUTPUT_NAME,
    column: int | None = POSITIVE_CLASS_INDEX,
) -> np.ndarray:
    """The package's score per row: `output[:, column]`, or the only column when `column` is None
    (a regressor's [N, 1]). Defaults: a binary package (`probabilities[:, 1]`)."""
    out = onnx_outputs(session, x, output, batch)
    if column is None:
        if out.shape[1] != 1:
            raise ValueError(f"output {output!r} has {out.shape[1]} columns: name the score's column")
        return np.asarray(out[:, 0])
    return np.asarray(out[:, column])


def onnx_predict(session: Any, x: np.ndarray, task: Task) -> np.ndarray:
    """What `TrainedModel.score_matrix` returns, from the graph: binary P(label 1) [N], regression [N],
    multiclass [N, K]."""
    if task is Task.BINARY:
        return onnx_scores(session, x)
    out = onnx_outputs(session, x, output_name(task))
    return np.asarray(out[:, 0]) if task is Task.REGRESSION else out


def parity(
    native: np.ndarray, exported: np.ndarray, config: ParityConfig, scale: Scale | None = None
) -> ParityReport:
    """Compare native and ONNX predictions row by row ([N, K] probabilities: a row's largest difference).

    `scale` (default `config.scale`, else absolute) says whether a row's difference is absolute or relative
    to max(|native|, `config.relative_floor`); relative differences take `ParityConfig.for_scale`'s
    tolerances.
    """
    if native.shape != exported.shape:
        raise ValueError(f"score shapes differ: native {native.shape}, onnx {exported.shape}")
    how: Scale = scale or config.scale or "absolute"
    config = config.for_scale(how)
    n = len(native)
    diff = np.abs(native - exported)
    if how == "relative":
        diff = diff / np.maximum(np.abs(native), config.relative_floor)
    if diff.ndim == 2:
        diff = diff.max(axis=1) if diff.shape[1] else np.zeros(n)
    finite = bool(np.isfinite(exported).all())
    max_abs = float(diff.max()) if n else 0.0
    q = float(np.quantile(diff, config.quantile)) if n else 0.0
    over = int((diff > config.row_tolerance).sum())
    allowed = max(config.max_rows_over, math.floor(config.max_share_over * n))
    word = "relative |diff|" if how == "relative" else "|diff|"
    reasons = []
    if not finite:
        reasons.append("ONNX produced NaN or infinite scores")
    if q > config.quantile_tolerance:
        reasons.append(f"p{config.quantile * 100:g} {word} {q:.3g} > {config.quantile_tolerance:g}")
    if over > allowed:
        reasons.append(
            f"{over} rows differ by more than {config.row_tolerance:g}"
            f"{' (relative)' if how == 'relative' else ''} (allowed {allowed})"
        )
    if max_abs > config.max_abs:
        reasons.append(f"max {word} {max_abs:.3g} > {config.max_abs:g}")
    return ParityReport(
        rows=n,
        max_abs_diff=max_abs,
        quantile=config.quantile,
        quantile_abs_diff=q,
        quantile_tolerance=config.quantile_tolerance,
        rows_over_tolerance=over,
        allowed_rows_over=allowed,
        row_tolerance=config.row_tolerance,
        passed=not reasons,
        reasons=tuple(reasons),
        scale=how,
    )
