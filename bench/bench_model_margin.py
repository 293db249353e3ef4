"""Does the model earn its place? LightGBM against the gate's simple baseline on every feature, per seed.

For each use case (credit: a logistic regression, ROC AUC; delivery: a ridge regression, MAE) and each seed,
the generator writes a data set, the training set is built through Feast as a training run builds it, and
`fit_candidate` trains both models with the use case's training.yaml and gates them. Prints, per seed, both
models' primary metric, the margin the gate checks (`gain_over_baseline`) and whether that check passed;
records the smallest margin over the seeds. The margin the gate asks for lives in each training.yaml
(`gate.min_gain_over_baseline`, `gate.regression.min_gain_over_baseline`).

    uv run --no-sync python bench/bench_model_margin.py                     # both use cases, 5 seeds
    uv run --no-sync python bench/bench_model_margin.py --usecases credit --rows 12000

Each use case runs in a child process: the plumbing reads the active use case (STEELTHREAD_USECASE) when
it is imported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import results as bench_results

USECASES = ("credit", "delivery")
SEEDS = (0, 1, 2, 3, 4)


def measure(rows: int, seeds: list[int]) -> list[dict[str, Any]]:
    """The active use case's margin per seed (runs in the child process)."""
    from steelthread_training.candidate import fit_candidate
    from steelthread_training.config import load_config
    from steelthread_training.dataset import build_training_set
    from steelthread_training.pipeline import generate_data
    from steelthread_training.settings import TrainingSettings

    config = load_config()
    out = []
    for seed in seeds:
        with tempfile.TemporaryDirectory(prefix="bench-margin-") as tmp:
            settings = TrainingSettings(
                data_dir=Path(tmp),
                tables_dir=None,
                feast_dir=None,
                models_dir=None,
                audit_dir=None,
                mlflow_tracking_uri=None,
                training_config=None,
                actor="bench",
                seed=seed,
            )
            generate_data(settings, rows, seed)
            data = build_training_set(settings, slice_options=config.slices.options)
            candidate = fit_candidate(data.frame, config, seed)
        kind = candidate.kind
        gain = next(c for c in candidate.verdict.checks if c.name.startswith("gain_over_baseline"))
        out.append(
            {
                "seed": seed,
                "metric": kind.primary,
                "higher_is_better": kind.higher_is_better,
                "lightgbm": kind.metric(candidate.evaluation, kind.primary),
                "baseline": kind.metric(candidate.baseline_eval, kind.primary),
                "margin": gain.value,
                "required": gain.threshold,
                "passed": gain.passed,
                "test_rows": len(candidate.split.test),
            }
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=20_000, help="generated events per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--usecases", nargs="+", choices=USECASES, default=list(USECASES))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    if "--child" in sys.argv:
        args = parser.parse_args()
        print(json.dumps(measure(args.rows, args.seeds)))
        return 0
    args = bench_results.parse(parser, small={"rows": 12_000, "seeds": [0, 1]})

    ratios: dict[str, float] = {}
    figures: dict[str, float] = {}
    ok = True
    for usecase in args.usecases:
        child = [sys.executable, __file__, "--child", "--rows", str(args.rows), "--seeds"]
        env = os.environ | {"STEELTHREAD_USECASE": usecase}
        done = subprocess.run(
            [*child, *map(str, args.seeds)], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            print(done.stdout[-2000:] + done.stderr[-4000:], file=sys.stderr)
            return 2
        per_seed = json.loads(done.stdout.strip().splitlines()[-1])
        metric = per_seed[0]["metric"]
        print(
            f"{usecase}: {metric} of LightGBM against the all-features baseline, {args.rows:,} rows per seed"
        )
        print(f"{'seed':>6}{'lightgbm':>10}{'baseline':>10}{'margin':>9}{'required':>10}  gate")
        for r in per_seed:
            print(
                f"{r['seed']:>6}{r['lightgbm']:>10.4f}{r['baseline']:>10.4f}{r['margin']:>9.4f}"
                f"{r['required']:>10.4f}  {'passed' if r['passed'] else 'REFUSED'}"
            )
            figures[f"{usecase} seed {r['seed']} margin"] = r["margin"]
        smallest = min(r["margin"] for r in per_seed)
        print(f"smallest margin {smallest:.4f} (the gate asks for more than {per_seed[0]['required']:g})\n")
        figures[f"{usecase} smallest margin"] = smallest
        # Oriented so that higher is better: the worst seed's model metric over its baseline's.
        ratios[f"{usecase} worst seed: lightgbm {metric} vs baseline"] = min(
            r["lightgbm"] / r["baseline"] if r["higher_is_better"] else r["baseline"] / r["lightgbm"]
            for r in per_seed
        )
        ok = ok and all(r["passed"] for r in per_seed)
    bench_results.record(
        args,
        "model_margin",
        params={"rows": args.rows, "seeds": list(args.seeds), "usecases": list(args.usecases)},
        ratios=ratios,
        figures=figures,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
