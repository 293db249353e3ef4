"""End-to-end training benchmark: generated applications -> registered, gated, published model.

Prints wall time and peak memory per stage, each stage's share of the run, and measured/target ratios.
Data generation and the Feast `apply` are timed apart (they are not part of a training run).

    uv run --no-sync python bench/bench_training.py              # 200,000 applications
    uv run --no-sync python bench/bench_training.py --rows 20000 # quicker
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import results as bench_results

TARGET_WALL_S = 600.0
"""A retrain of 200k applications must fit in ten minutes on a two-core laptop."""
TARGET_PEAK_GIB = 8.0


def peak_gib() -> float:
    # ru_maxrss is in KiB on Linux: the process's peak resident set so far.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="Reuse/keep state here (default: a tmp dir)."
    )
    args = bench_results.parse(parser, small={"rows": 20_000})

    from steelthread_training.pipeline import STAGES, generate_data, run_training
    from steelthread_training.settings import TrainingSettings
    from steelthread_training.timing import StageTimer

    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        root = args.data_dir or Path(tmp)
        settings = TrainingSettings(
            data_dir=root,
            tables_dir=None,
            feast_dir=None,
            models_dir=None,
            audit_dir=None,
            mlflow_tracking_uri=None,
            actor="bench",
            seed=args.seed,
        )
        started = time.perf_counter()
        if not (settings.tables_dir / "applications").is_dir():
            generate_data(settings, args.rows, args.seed)
        prep_s = time.perf_counter() - started
        prep_peak = peak_gib()

        peaks: dict[str, float] = {}
        timer = StageTimer(on_end=lambda name, _s: peaks.__setitem__(name, peak_gib()))
        started = time.perf_counter()
        outcome = run_training(settings, timer=timer, seed=args.seed)
        wall = time.perf_counter() - started
        peak = peak_gib()

    rows = len(outcome.candidate.split.train) + len(outcome.candidate.split.validation)
    rows += len(outcome.candidate.split.test)
    print(f"training benchmark: {rows:,} labelled applications (generated {args.rows:,}), seed {args.seed}")
    print(f"data generation + feast apply (not part of the run): {prep_s:.1f} s, peak {prep_peak:.2f} GiB")
    print(f"{'stage':<10} {'seconds':>8} {'share':>7} {'peak GiB so far':>16}")
    for stage in STAGES:
        seconds = outcome.seconds.get(stage, 0.0)
        print(f"{stage:<10} {seconds:>8.1f} {seconds / wall:>7.1%} {peaks.get(stage, 0.0):>16.2f}")
    print(f"{'total':<10} {wall:>8.1f} {1:>7.0%} {peak:>16.2f}")
    m = outcome.candidate.evaluation.metrics
    parity = outcome.candidate.parity
    print(
        f"model: ROC AUC {m.roc_auc:.4f} (baseline {outcome.candidate.baseline_eval.metrics.roc_auc:.4f}), "
        f"trees {outcome.candidate.lightgbm.params['best_iteration']}, "
        f"parity max |diff| {parity.max_abs_diff:.2g} over {parity.rows:,} rows, "
        f"gate {'passed' if outcome.candidate.verdict.passed else 'REFUSED'}"
    )
    print(f"{'':<22}{'measured':>10}{'target':>10}{'ratio':>8}")
    print(f"{'wall time (s)':<22}{wall:>10.1f}{TARGET_WALL_S:>10.0f}{wall / TARGET_WALL_S:>8.2f}")
    print(f"{'peak memory (GiB)':<22}{peak:>10.2f}{TARGET_PEAK_GIB:>10.1f}{peak / TARGET_PEAK_GIB:>8.2f}")
    print(f"{'throughput (rows/s)':<22}{rows / wall:>10.0f}")
    baseline_auc = outcome.candidate.baseline_eval.metrics.roc_auc
    bench_results.record(
        args,
        "training",
        params={"rows": args.rows, "seed": args.seed},
        # Side by side in one run: the model against the baseline it must beat on the same test rows.
        ratios={"model ROC AUC / baseline ROC AUC": m.roc_auc / baseline_auc} if baseline_auc else {},
        figures={
            "wall s": wall,
            "peak GiB": peak,
            "data generation + apply s": prep_s,
            **{f"{stage} s": outcome.seconds.get(stage, 0.0) for stage in STAGES},
        },
    )
    return 0 if wall <= TARGET_WALL_S and peak <= TARGET_PEAK_GIB else 1


if __name__ == "__main__":
    sys.exit(main())
