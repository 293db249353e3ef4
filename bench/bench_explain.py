"""What explaining a decision costs: `explain=true` against the same request without it, side by side.

One live-mode server (its own process, one uvicorn worker) answers a package that ships its booster, with
online features from the local store. wrk sends the same request with and without `explain=true` at one
connection, in interleaved rounds (the round with the median throughput is reported): the added p50 and
p99 per explained row, and the ratio of the two throughputs. In-process, the explanation alone
(`steelthread_serving.explain.explanation_for`: LightGBM's TreeSHAP and the reason codes) is timed per row
next to the graph's score of the same row. The package's model is sized like a trained one (`--trees`).
The installed size of what the serving image's `explain` extra adds (LightGBM and what it requires) is
recorded too: the image grows by that much.

Usage: uv run python bench/bench_explain.py [--duration 5] [--rounds 3] [--trees 300] [--rows 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import httpx
import numpy as np
import results as bench_results
from bench_serving import wait_ready, wrk

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # reuse the test helpers that build worlds and packages

from helpers.packages import make_package, publish  # noqa: E402
from helpers.serving import free_port, write_flags  # noqa: E402
from helpers.world import build_world  # noqa: E402
from steelthread_contracts.decision import decide, decided_by  # noqa: E402
from steelthread_features import store  # noqa: E402
from steelthread_serving.explain import explanation_for  # noqa: E402
from steelthread_serving.package import load_package  # noqa: E402

KEY = "bench-key-0123456789abcdef"
EXPLAIN_EXTRA = ("lightgbm", "scipy", "narwhals")
"""What the serving image's `explain` extra installs beyond the image without it
(tests/serving/test_serving_dependencies.py keeps this list true)."""


def installed_mb(names: tuple[str, ...]) -> float:
    """Bytes on disk of the installed distributions' files, in MB."""
    total = 0
    for name in names:
        for file in metadata.distribution(name).files or ():
            path = Path(str(file.locate()))
            if path.is_file():
                total += path.stat().st_size
    return total / 1e6


def per_row(fn, rows: list, repeat: int) -> tuple[float, float]:
    """p50 and p99 in ms of `fn(row)` over the rows, `repeat` times each (after a warm-up pass)."""
    for row in rows:
        fn(row)
    samples = []
    for _ in range(repeat):
        for row in rows:
            started = time.perf_counter()
            fn(row)
            samples.append(time.perf_counter() - started)
    arr = np.array(samples) * 1e3
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trees", type=int, default=300, help="trees of the served model")
    parser.add_argument("--rows", type=int, default=2000, help="rows of the generated world")
    args = bench_results.parse(parser, small={"duration": 2, "rounds": 1, "trees": 150})
    tmp = Path(tempfile.mkdtemp(prefix="bench-explain-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        print("building a world and a package that ships its booster ...", flush=True)
        world = build_world(tmp / "var", rows=args.rows)
        models = tmp / "var" / "models"
        folder = make_package(models, "1", booster=True, trees=args.trees, rows=4000, threshold=0.3)
        publish(models, "champion", "1")
        requests = [r.model_dump(mode="json", exclude_none=True) for r in world.requests(50)]

        flags = tmp / "flags.json"
        shutil.copy(ROOT / "apps" / "serving" / "flags.json", flags)
        write_flags(flags, "live")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("STEELTHREAD_")} | {
            "STEELTHREAD_API_KEYS": KEY,
            "STEELTHREAD_DATA_DIR": str(tmp / "var"),
            "STEELTHREAD_MODELS_DIR": str(models),
            "STEELTHREAD_FLAGS_PATH": str(flags),
            "STEELTHREAD_PREDICTION_LOG_DIR": str(tmp / "log"),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "steelthread_serving.cli", "--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, proc)
        headers = {"X-API-Key": KEY, "Content-Type": "application/json"}
        bodies = {"plain": json.dumps(requests[0]), "explained": json.dumps(requests[0] | {"explain": True})}
        answer = httpx.post(url + "/v1/predictions", content=bodies["explained"], headers=headers).json()
        if answer["mode"] != "live" or answer["degraded"] or answer["explanation"] is None:
            raise SystemExit(f"the server does not answer as measured: {answer}")

        runs: dict[str, list[dict[str, float]]] = {"plain": [], "explained": []}
        for round_ in range(1, args.rounds + 1):
            for name, body in bodies.items():
                print(f"round {round_}/{args.rounds}: wrk {name} c=1 ...", flush=True)
                runs[name].append(wrk(url + "/v1/predictions", body, 1, args.duration, headers, proc.pid))
        median = {n: sorted(r, key=lambda x: x["rps"])[len(r) // 2] for n, r in runs.items()}

        # In-process: the explanation alone next to the graph's score, per row.
        model = load_package(folder, ["CPUExecutionProvider"])
        answers = [
            httpx.post(url + "/v1/predictions", json=r | {"explain": True}, headers={"X-API-Key": KEY}).json()
            for r in requests
        ]
        rows = [a["features"] for a in answers]

        def score(values: dict[str, float | None]) -> float:
            return float(model.predict(model.matrix([values]))[0])

        def explain(values: dict[str, float | None]) -> object:
            s = score(values)
            return explanation_for(
                model, values, decide(s, model.thresholds), decided_by(s, model.thresholds)
            )

        score_p50, score_p99 = per_row(score, rows, 20)
        explain_p50, explain_p99 = per_row(explain, rows, 20)
        extra_mb = installed_mb(EXPLAIN_EXTRA)

        plain, explained = median["plain"], median["explained"]
        print()
        print(f"{'request':<12}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
        for name, r in median.items():
            print(f"{name:<12}{r['rps']:>10.0f}{r['p50']:>9.3f}{r['p99']:>9.3f}")
        print(
            f"added per explained row: p50 {explained['p50'] - plain['p50']:.3f} ms, "
            f"p99 {explained['p99'] - plain['p99']:.3f} ms"
        )
        print(
            f"in-process per row: score p50 {score_p50:.3f} / p99 {score_p99:.3f} ms, "
            f"score + explanation p50 {explain_p50:.3f} / p99 {explain_p99:.3f} ms"
        )
        print(f"the explain extra installs {extra_mb:.1f} MB ({', '.join(EXPLAIN_EXTRA)})")
        bench_results.record(
            args,
            "explain",
            params={"duration_s": args.duration, "rounds": args.rounds, "trees": args.trees},
            ratios={"explained req/s / plain req/s, c1": explained["rps"] / plain["rps"]},
            figures={
                "plain c1 p50 ms": plain["p50"],
                "plain c1 p99 ms": plain["p99"],
                "explained c1 p50 ms": explained["p50"],
                "explained c1 p99 ms": explained["p99"],
                "added p99 ms per explained row": explained["p99"] - plain["p99"],
                "added p50 ms per explained row": explained["p50"] - plain["p50"],
                "in-process score p99 ms": score_p99,
                "in-process score + explanation p99 ms": explain_p99,
                "explain extra installed MB": extra_mb,
            },
        )
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        store.clear_cache()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
