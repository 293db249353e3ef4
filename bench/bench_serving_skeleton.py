"""Skeleton answer latency over real HTTP, next to a bare FastAPI endpoint under the same server settings.

Prints p50/p99 per endpoint and the ratio, all measured in this one run (sequential requests on one
keep-alive connection, after a warm-up). Target from issue 2: skeleton median under 5 ms on this machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import results as bench_results
import uvicorn
from fastapi import FastAPI

from steelthread_serving.app import create_app
from steelthread_serving.settings import DEFAULT_FLAGS_PATH, ServingSettings

KEY = "bench-key-0123456789abcdef"
BODY = {
    "customer_id": 42,
    "loan_amount": 12000.0,
    "term_months": 36,
    "purpose": "debt_consolidation",
    "declared_income": 54000.0,
}


def serve(app: FastAPI, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server


def measure(url: str, n: int, payload: dict[str, object] | None) -> list[float]:
    samples = []
    with httpx.Client(headers={"X-API-Key": KEY}) as client:
        for i in range(n + 200):
            started = time.perf_counter()
            r = client.post(url, json=payload) if payload else client.get(url)
            elapsed = time.perf_counter() - started
            r.raise_for_status()
            if i >= 200:
                samples.append(elapsed * 1000)
    return samples


def pct(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=1000)[int(q * 1000) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    args = bench_results.parse(parser, small={"requests": 600})
    tmp = Path(tempfile.mkdtemp())
    shutil.copy(DEFAULT_FLAGS_PATH, tmp / "flags.json")
    settings = ServingSettings(
        data_dir=tmp,
        api_keys=[KEY],
        flags_path=tmp / "flags.json",  # type: ignore[list-item]
    )
    bare = FastAPI()

    @bare.post("/constant")
    async def constant() -> dict[str, float]:
        return {"probability_of_default": 0.1}

    s1 = serve(create_app(settings), 18731)
    s2 = serve(bare, 18732)
    skeleton: list[float] = []
    baseline: list[float] = []
    rounds = 6  # alternate so background load hits both sides alike
    for _ in range(rounds):
        skeleton += measure("http://127.0.0.1:18731/v1/predictions", args.requests // rounds, BODY)
        baseline += measure("http://127.0.0.1:18732/constant", args.requests // rounds, BODY)
    s1.should_exit = s2.should_exit = True
    print(f"{'endpoint':<28}{'p50 ms':>9}{'p99 ms':>9}")
    for name, s in (("bare FastAPI constant", baseline), ("skeleton /v1/predictions", skeleton)):
        print(f"{name:<28}{statistics.median(s):>9.3f}{pct(s, 0.99):>9.3f}")
    ratio = statistics.median(skeleton) / statistics.median(baseline)
    print(
        f"skeleton / bare p50 ratio: {ratio:.2f}x (on {os.cpu_count()} cores, {args.requests} requests each)"
    )
    verdict = "meets" if statistics.median(skeleton) < 5 else "MISSES"
    print(f"skeleton median {statistics.median(skeleton):.3f} ms {verdict} the 5 ms target")
    shutil.rmtree(tmp)
    bench_results.record(
        args,
        "serving_skeleton",
        params={"requests": args.requests},
        ratios={"bare p50 / skeleton p50": 1 / ratio},
        figures={
            "skeleton p50 ms": statistics.median(skeleton),
            "skeleton p99 ms": pct(skeleton, 0.99),
            "bare p50 ms": statistics.median(baseline),
            "bare p99 ms": pct(baseline, 0.99),
        },
    )


if __name__ == "__main__":
    main()
