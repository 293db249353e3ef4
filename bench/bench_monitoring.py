"""Monitoring job at growing window sizes: time per 100k rows must stay flat, memory within 24 GiB.

    uv run --no-sync python bench/bench_monitoring.py                      # 100k, 300k, 1M rows
    uv run --no-sync python bench/bench_monitoring.py --sizes 20000,60000   # quick

Each size runs in a fresh process (so peak RSS is that run's own) on a synthetic deployment written in
the prediction-log contract (files of 100k rows, 30 % labelled). Prints read time, total time, seconds per
100k rows and its ratio to the smallest size, and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import results as bench_results

END = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
MEMORY_BUDGET_GIB = 24.0


def write(rows: int, root: Path) -> None:
    """The synthetic window, in its own process so its memory is not counted against the job."""
    from steelthread_monitoring.synthetic import write_package, write_window

    write_package(root / "models")
    for start in range(0, rows, 100_000):
        n = min(100_000, rows - start)
        write_window(root / "prediction-log", root / "feedback", n, END, labelled_share=0.3, seed=start + 1)


def child(rows: int, root: Path) -> None:
    """One measured run: read the window alone, then the whole job (report, summary, gauges)."""
    from steelthread_monitoring.job import RunOptions, run_monitoring
    from steelthread_monitoring.reference import load_reference
    from steelthread_monitoring.window import read_window

    models, log_dir, feedback = root / "models", root / "prediction-log", root / "feedback"
    reference_path = models / "versions" / "3" / "reference.parquet"
    log_bytes = sum(p.stat().st_size for p in log_dir.glob("*.jsonl"))

    reference = load_reference(reference_path)
    started = time.perf_counter()
    window = read_window(log_dir, feedback, END - timedelta(hours=24), END, reference)
    read = time.perf_counter() - started
    assert len(window.frame) == rows
    del window

    import steelthread_monitoring.analysis  # noqa: F401  (import cost is not per row; keep it out)

    options = RunOptions(
        window=timedelta(hours=24),
        log_dir=log_dir,
        feedback_dir=feedback,
        models_dir=models,
        out_dir=root / "monitoring",
        textfile=root / "monitor.prom",
        now=END,
    )
    started = time.perf_counter()
    outcome = run_monitoring(options)
    total = time.perf_counter() - started
    assert outcome.summary.rows == rows
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "rows": rows,
                "log_mb": log_bytes / 1e6,
                "read_s": read,
                "total_s": total,
                "peak_gib": peak / 2**30,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000", help="comma-separated row counts")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--write", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = bench_results.parse(parser, small={"sizes": "20000,60000"})
    if args.write:
        write(args.write, args.root)
        return
    if args.child:
        child(args.child, args.root)
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for rows in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as tmp:
            subprocess.run([sys.executable, __file__, "--write", str(rows), "--root", tmp], check=True)
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(rows), "--root", tmp],
                capture_output=True,
                text=True,
                check=False,
            )
        if out.returncode != 0:
            sys.exit(f"run with {rows} rows failed:\n{out.stderr[-3000:]}")
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))

    base = results[0]
    base_per = base["total_s"] / base["rows"] * 100_000
    base_read = base["read_s"] / base["rows"] * 100_000
    print(
        f"{'rows':>10} {'log MB':>8} {'read s':>8} {'read/100k':>10} {'ratio':>6} "
        f"{'total s':>8} {'total/100k':>11} {'ratio':>6} {'peak GiB':>9}"
    )
    for r in results:
        per = r["total_s"] / r["rows"] * 100_000
        read_per = r["read_s"] / r["rows"] * 100_000
        print(
            f"{r['rows']:>10,} {r['log_mb']:>8.0f} {r['read_s']:>8.2f} {read_per:>10.2f} "
            f"{read_per / base_read:>6.2f} {r['total_s']:>8.2f} {per:>11.2f} {per / base_per:>6.2f} "
            f"{r['peak_gib']:>9.2f}"
        )
    worst = max(r["peak_gib"] for r in results)
    print(
        f"ratio = seconds per 100k rows relative to {base['rows']:,} rows (flat or falling is the goal); "
        f"peak RSS {worst:.2f} GiB of a {MEMORY_BUDGET_GIB:.0f} GiB budget"
    )
    last = results[-1]
    bench_results.record(
        args,
        "monitoring",
        params={"sizes": args.sizes},
        ratios={
            f"seconds per 100k rows at {base['rows']} / at {last['rows']}": base_per
            / (last["total_s"] / last["rows"] * 100_000),
        },
        figures={
            **{f"total s at {r['rows']} rows": r["total_s"] for r in results},
            **{f"read s at {r['rows']} rows": r["read_s"] for r in results},
            **{f"peak GiB at {r['rows']} rows": r["peak_gib"] for r in results},
        },
    )


if __name__ == "__main__":
    main()
