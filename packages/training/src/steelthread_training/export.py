"""Stage 6: the LightGBM model as ONNX, and proof that the export scores like the original.

Serving loads only the ONNX file, so the export must be checked on every test row, not on a sample: a
converter bug that flips a split shows up on a few rows only. ONNX stores split thresholds as float32, so
a handful of rows per million legitimately land on the other side of a split; the parity check therefore
gates on a high quantile of the difference plus a small count of rows over a per-row tolerance, and
reports the maximum (see training.yaml for the numbers and the measurement behind them).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np

from steelthread_training.config import ParityConfig
from steelthread_training.frame import USE_CASE
from steelthread_training.models import TrainedModel

INPUT_NAME: Final = "features"
OUTPUT_NAME: Final = "probabilities"
POSITIVE_CLASS_INDEX: Final = 1
TARGET_OPSET: Final = 15


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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def to_onnx(model: TrainedModel) -> Any:
    """Convert the booster: one float32 input `features` [N, F]; one output `probabilities` [N, 2].

    The converter also emits a `label` output whose declared shape is wrong ([1] for N rows, which makes
    onnxruntime warn on every call); serving decides with its own threshold, so that output is dropped.
    """
    import onnx
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    n = len(model.feature_names)
    onx = convert_lightgbm(
        model.model,
        name=f"steelthread-{USE_CASE.name}",
        initial_types=[(INPUT_NAME, FloatTensorType([None, n]))],
        zipmap=False,
        target_opset=TARGET_OPSET,
    )
    outputs = [o for o in onx.graph.output if o.name == OUTPUT_NAME]
    if len(outputs) != 1:
        names = ", ".join(o.name for o in onx.graph.output)
        raise RuntimeError(f"ONNX converter produced outputs [{names}], expected {OUTPUT_NAME!r}")
    del onx.graph.output[:]
    onx.graph.output.extend(outputs)
    onx.doc_string = (
        f"steelthread {USE_CASE.name} LightGBM ({USE_CASE.task}); "
        f"{OUTPUT_NAME}[:, {POSITIVE_CLASS_INDEX}] = {USE_CASE.texts.score_field}"
    )
    onnx.checker.check_model(onx)
    return onx


def onnx_session(model_bytes: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model_bytes, sess_options=options, providers=["CPUExecutionProvider"])


def onnx_scores(session: Any, x: np.ndarray, batch: int = 65_536) -> np.ndarray:
    """The score per row from an onnxruntime session (float32 input, as serving sends it)."""
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    parts = [
        np.asarray(session.run([OUTPUT_NAME], {INPUT_NAME: x32[i : i + batch]})[0])[:, POSITIVE_CLASS_INDEX]
        for i in range(0, len(x32), batch)
    ]
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)


def parity(native: np.ndarray, exported: np.ndarray, config: ParityConfig) -> ParityReport:
    """Compare native and ONNX scores row by row."""
    if native.shape != exported.shape:
        raise ValueError(f"score shapes differ: native {native.shape}, onnx {exported.shape}")
    n = len(native)
    diff = np.abs(native - exported)
    finite = bool(np.isfinite(exported).all())
    max_abs = float(diff.max()) if n else 0.0
    q = float(np.quantile(diff, config.quantile)) if n else 0.0
    over = int((diff > config.row_tolerance).sum())
    allowed = max(config.max_rows_over, math.floor(config.max_share_over * n))
    reasons = []
    if not finite:
        reasons.append("ONNX produced NaN or infinite scores")
    if q > config.quantile_tolerance:
        reasons.append(f"p{config.quantile * 100:g} |diff| {q:.3g} > {config.quantile_tolerance:g}")
    if over > allowed:
        reasons.append(f"{over} rows differ by more than {config.row_tolerance:g} (allowed {allowed})")
    if max_abs > config.max_abs:
        reasons.append(f"max |diff| {max_abs:.3g} > {config.max_abs:g}")
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
    )
