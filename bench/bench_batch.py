"""Batch scoring throughput: bare single-process floor vs the local engine vs Spark local, in one run.

Each contender runs in its own process on the same parquet input and the same 200-tree LightGBM model
(ONNX); the parent samples the whole process tree's resident memory (JVM and Python workers included).
Start-up (imports, session, JVM) is reported apart from the scoring run. Ratios are against the floor
measured in this run. Targets (issues 12, 24): local >= 90% of the floor, Spark local >= 45%, peak memory
of both engines flat in the row count (all rows vs a quarter of them). The machine must be idle: the CPU
time other processes used during each contender is printed (with the load average before and after), and
above `IDLE_SHARE` nothing is recorded.

    uv run --no-sync python bench/bench_batch.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import results as bench_results

FILE_ROWS = 262_144
SMALL_ROWS = 300_000


# --- setup -----------------------------------------------------------------------------------------------


def build_package(root: Path, trees: int) -> Path:
    """A 200-tree LightGBM model over the feature service's features, exported to ONNX and published
    through the package contract."""
    import lightgbm as lgb
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    from steelthread_features import feature_names

    names = feature_names()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, len(names))).astype(np.float32)
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-(x[:, 0] - x[:, 1])))).astype(int)
    model = lgb.LGBMClassifier(n_estimators=trees, num_leaves=31, verbose=-1).fit(x, y)
    onnx_model = onnxmltools.convert_lightgbm(
        model, initial_types=[("input", FloatTensorType([None, len(names)]))], zipmap=False, target_opset=15
    )
    import onnxruntime as ort

    from steelthread_contracts import package as contract

    run = root / "run"
    run.mkdir(parents=True)
    (run / contract.MODEL_FILE).write_bytes(onnx_model.SerializeToString())
    session = ort.InferenceSession(str(run / contract.MODEL_FILE), providers=["CPUExecutionProvider"])
    smoke_x = x[:5]
    smoke_scores = session.run(["probabilities"], {"input": smoke_x})[0][:, 1]
    cases = [
        contract.SmokeCase(features=[float(v) for v in row], expected_score=float(score))
        for row, score in zip(smoke_x, smoke_scores, strict=True)
    ]
    contract.write_smoke(run, contract.SmokeDocument(feature_names=names, tolerance=1e-5, cases=cases))
    contract.write_run_manifest(
        run,
        {
            "name": "bench",
            "feature_names": names,
            "threshold": 0.5,
            "review_threshold": 0.375,
            "onnx": {"input": "input", "output": "probabilities", "positive_class_index": 1},
        },
    )
    contract.publish(run, root / "models", "1")
    contract.write_pointer(root / "models", "champion", "1")
    return root / "models"


def write_input(folder: Path, rows: int, names: list[str]) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from steelthread_features.definitions import JOIN_KEY

    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    paths: list[Path] = []
    start = 0
    ts = pa.scalar(1_780_000_000_000_000, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    while start < rows:
        n = min(FILE_ROWS, rows - start)
        columns = {
            "request_id": pa.array([f"r{i}" for i in range(start, start + n)]),
            JOIN_KEY: pa.array(np.arange(start, start + n, dtype=np.int64) + 1),
            "event_timestamp": pa.repeat(ts, n),
        }
        for name in names:
            columns[name] = pa.array(rng.normal(size=n))
        path = folder / f"part-{len(paths):05d}.parquet"
        pq.write_table(pa.table(columns), path, row_group_size=65_536)
        paths.append(path)
        start += n
    return paths


# --- contenders (run in child processes) -------------------------------------------------------------


def worker_floor(args: argparse.Namespace) -> dict[str, float]:
    """The least a Python process can do: stream batches, build the matrix, score, write id + score."""
    t0 = time.perf_counter()
    import onnxruntime as ort
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    package = json.loads((Path(args.models) / "versions/1/package.json").read_text())
    names = package["feature_names"]
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    session = ort.InferenceSession(str(Path(args.models) / "versions/1/model.onnx"), options)
    startup = time.perf_counter() - t0
    t1 = time.perf_counter()
    dataset = ds.dataset(args.input, format="parquet")
    schema = pa.schema([("request_id", pa.string()), ("score", pa.float64())])
    rows = 0
    path = Path(args.output) / "scores.parquet"
    # No dictionary encoding of the float column: pyarrow's default tries it and that dominates the write.
    with pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=False) as writer:
        for batch in dataset.to_batches(columns=["request_id", *names], batch_size=args.batch_rows):
            matrix = np.column_stack([batch.column(n).to_numpy() for n in names]).astype(np.float32)
            scores = session.run(["probabilities"], {"input": matrix})[0][:, 1].astype(np.float64)
            writer.write_batch(pa.record_batch([batch.column(0), pa.array(scores)], schema=schema))
            rows += batch.num_rows
    return {"startup_s": startup, "run_s": time.perf_counter() - t1, "rows": rows}


def worker_local(args: argparse.Namespace) -> dict[str, float]:
    t0 = time.perf_counter()
    from steelthread_batch.local_engine import LocalJob, run_local
    from steelthread_batch.package import resolve_package

    package = resolve_package(Path(args.models))
    startup = time.perf_counter() - t0
    t1 = time.perf_counter()
    summary = run_local(
        LocalJob(
            input_uri=args.input,
            output_uri=str(Path(args.output) / "out"),
            package=package,
            role="champion",
            prediction_log_dir=str(Path(args.output) / "log") if args.log else None,
            rows_per_part=args.rows_per_part,
            batch_rows=args.batch_rows,
            threads=args.threads,
        )
    )
    return {"startup_s": startup, "run_s": time.perf_counter() - t1, "rows": summary.rows_in}


def worker_spark(args: argparse.Namespace) -> dict[str, float]:
    t0 = time.perf_counter()
    from steelthread_batch.package import resolve_package
    from steelthread_batch.spark_engine import SparkJob, run_spark
    from steelthread_batch.spark_session import spark_session

    package = resolve_package(Path(args.models))
    session = spark_session(args.spark_master, shuffle_partitions=4, driver_memory="2g")
    session.range(1).count()  # JVM and first job up
    startup = time.perf_counter() - t0
    t1 = time.perf_counter()
    summary = run_spark(
        SparkJob(
            input_uri=args.input,
            output_uri=str(Path(args.output) / "out"),
            package=package,
            role="champion",
            prediction_log_dir=str(Path(args.output) / "log") if args.log else None,
            master=args.spark_master,
            threads=1,
            arrow_rows=args.batch_rows,
        )
    )
    result = {"startup_s": startup, "run_s": time.perf_counter() - t1, "rows": summary.rows_in}
    session.stop()
    return result


def gpu_forest(args: argparse.Namespace) -> dict[str, float]:
    """The tensorised forest on CUDA (PyTorch) vs onnxruntime on every CPU thread, same rows and model.

    Needs only numpy, onnx, onnxruntime and torch (the separate GPU environment), plus this repo's
    `steelthread_batch.forest` on PYTHONPATH.
    """
    import importlib

    import onnxruntime as ort

    torch = importlib.import_module("torch")  # only in the separate GPU environment

    from steelthread_batch.forest import DeviceForest, load_forest

    model = str(Path(args.models) / "versions/1/model.onnx")
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    width = session.get_inputs()[0].shape[1]
    rng = np.random.default_rng(2)
    matrix = rng.normal(size=(args.rows, width)).astype(np.float32)
    matrix[rng.random(matrix.shape) < 0.05] = np.nan
    t0 = time.perf_counter()
    forest = DeviceForest(load_forest(model), "cuda")
    forest.predict(matrix[:1000])
    torch.cuda.synchronize()
    startup = time.perf_counter() - t0
    t1 = time.perf_counter()
    got = forest.predict(matrix, chunk_rows=args.batch_rows)
    torch.cuda.synchronize()
    gpu_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    want = session.run(["probabilities"], {"input": matrix})[0][:, 1]
    cpu_s = time.perf_counter() - t2
    diff = np.abs(got - want)
    return {
        "rows": args.rows,
        "gpu_startup_s": startup,
        "gpu_s": gpu_s,
        "cpu_s": cpu_s,
        "cpu_threads": os.cpu_count() or 1,
        "gpu_rows_per_s": args.rows / gpu_s,
        "cpu_rows_per_s": args.rows / cpu_s,
        "speedup": cpu_s / gpu_s,
        "max_abs_diff": float(diff.max()),
        "over_1e-6": int((diff > 1e-6).sum()),
        "device": torch.cuda.get_device_name(0),
    }


WORKERS = {"floor": worker_floor, "local": worker_local, "spark": worker_spark, "gpu": gpu_forest}


# --- parent: run, sample memory, report -----------------------------------------------------------------


IDLE_SHARE = 0.10
"""Above this share of the machine's CPU used by other processes during a contender, the run is not
idle and its figures are not recorded (a busy machine slows the floor and flatters Spark)."""


def tree_usage(pid: int) -> tuple[int, dict[int, int]]:
    """Resident memory of a process and all its descendants, and each one's CPU time in clock ticks
    (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    cpu: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * page
            cpu[int(entry)] = int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    total, seen, stack = 0, {}, [pid]
    while stack:
        current = stack.pop()
        total += rss.get(current, 0)
        seen[current] = cpu.get(current, 0)
        stack.extend(children.get(current, []))
    return total, seen


def machine_busy_ticks() -> int:
    """CPU time spent by every process since boot, in clock ticks (/proc/stat, all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]


def measure(
    kind: str, args: argparse.Namespace, input_dir: Path, models: Path, log: bool
) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-", dir=args.workdir))
    command = [
        sys.executable, __file__, "--worker", kind, "--input", str(input_dir), "--models", str(models),
        "--output", str(out), "--threads", str(args.threads), "--batch-rows", str(args.batch_rows),
        "--rows-per-part", str(args.rows_per_part), "--spark-master", args.spark_master,
    ] + (["--log"] if log else [])  # fmt: skip
    load_before = os.getloadavg()[0]
    busy_before, started = machine_busy_ticks(), time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak = 0
    ticks: dict[int, int] = {}
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            rss, cpu = tree_usage(process.pid)
            peak = max(peak, rss)
            for pid, used in cpu.items():
                ticks[pid] = max(ticks.get(pid, 0), used)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = process.communicate()
    done.set()
    sampler.join()
    wall = time.perf_counter() - started
    others = machine_busy_ticks() - busy_before - sum(ticks.values())
    capacity = wall * os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
    if process.returncode != 0:
        raise SystemExit(f"{kind} failed with exit code {process.returncode}")
    result: dict[str, float] = json.loads(stdout.strip().splitlines()[-1])
    result["peak_gb"] = peak / 1e9
    result["load_before"] = load_before
    result["load_after"] = os.getloadavg()[0]
    result["others_cpu_share"] = max(0.0, others / capacity)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--trees", type=int, default=200)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--batch-rows", type=int, default=65_536)
    parser.add_argument("--rows-per-part", type=int, default=500_000)
    parser.add_argument("--spark-master", default="local[*]")
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--worker", choices=sorted(WORKERS))
    parser.add_argument("--input")
    parser.add_argument("--models")
    parser.add_argument("--output")
    parser.add_argument("--log", action="store_true")
    args = bench_results.parse(parser, small={"rows": SMALL_ROWS})
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args)))
        return
    import pyarrow.parquet as pq

    cores = os.cpu_count() or 1
    root = Path(tempfile.mkdtemp(prefix="bench-batch-", dir=args.workdir))
    args.workdir = str(root)
    print(f"setup: {args.rows:,} rows, {args.trees} trees, {cores} cores, onnxruntime threads {args.threads}")
    models = build_package(root, args.trees)
    names = json.loads((models / "versions/1/package.json").read_text())["feature_names"]
    files = write_input(root / "input", args.rows, names)
    quarter = root / "input-quarter"
    quarter.mkdir()
    for path in files[: max(1, len(files) // 4)]:
        (quarter / path.name).symlink_to(path)
    quarter_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in files[: max(1, len(files) // 4)])

    results: dict[str, dict[str, float]] = {}
    results["floor (pyarrow + onnxruntime)"] = measure("floor", args, root / "input", models, log=False)
    results["local engine"] = measure("local", args, root / "input", models, log=False)
    results["local engine + prediction log"] = measure("local", args, root / "input", models, log=True)
    results[f"local engine, {quarter_rows:,} rows"] = measure("local", args, quarter, models, log=False)
    if not args.skip_spark:
        results[f"spark {args.spark_master}"] = measure("spark", args, root / "input", models, log=False)
        results[f"spark {args.spark_master}, {quarter_rows:,} rows"] = measure(
            "spark", args, quarter, models, log=False
        )

    floor = results["floor (pyarrow + onnxruntime)"]
    floor_rate = floor["rows"] / floor["run_s"]
    print(f"\n{'contender':<40} {'rows':>10} {'start s':>8} {'run s':>8} {'rows/s':>10} "
          f"{'rows/s/core':>11} {'peak GB':>8} {'vs floor':>8} {'load before/after':>17} {'others':>6}")  # fmt: skip
    for name, r in results.items():
        rate = r["rows"] / r["run_s"]
        print(f"{name:<40} {int(r['rows']):>10,} {r['startup_s']:>8.1f} {r['run_s']:>8.1f} {rate:>10,.0f} "
              f"{rate / cores:>11,.0f} {r['peak_gb']:>8.2f} {rate / floor_rate:>8.2f} "
              f"{r['load_before']:>8.2f}/{r['load_after']:<8.2f} {r['others_cpu_share']:>6.0%}")  # fmt: skip
    local = results["local engine"]
    small = results[f"local engine, {quarter_rows:,} rows"]
    print(f"\nlocal engine / floor: {local['rows'] / local['run_s'] / floor_rate:.2f} (target >= 0.90)")
    if not args.skip_spark:
        spark = results[f"spark {args.spark_master}"]
        spark_small = results[f"spark {args.spark_master}, {quarter_rows:,} rows"]
        print(f"spark / floor: {spark['rows'] / spark['run_s'] / floor_rate:.2f} (target >= 0.45), "
              f"start-up {spark['startup_s']:.1f} s apart")  # fmt: skip
        print(f"spark peak memory at {int(spark['rows']):,} rows vs {quarter_rows:,} rows: "
              f"{spark['peak_gb']:.2f} GB vs {spark_small['peak_gb']:.2f} GB (flat = streaming)")  # fmt: skip
    print(f"local peak memory at {int(local['rows']):,} rows vs {quarter_rows:,} rows: "
          f"{local['peak_gb']:.2f} GB vs {small['peak_gb']:.2f} GB (flat = streaming)")  # fmt: skip
    ratios = {
        "local engine rows/s / floor rows/s": local["rows"] / local["run_s"] / floor_rate,
        "local engine + log rows/s / floor rows/s": (
            results["local engine + prediction log"]["rows"]
            / results["local engine + prediction log"]["run_s"]
            / floor_rate
        ),
        "local peak memory at a quarter of the rows / at all rows": small["peak_gb"] / local["peak_gb"],
    }
    if not args.skip_spark:
        ratios["spark rows/s / floor rows/s"] = spark["rows"] / spark["run_s"] / floor_rate
        ratios["spark peak memory at a quarter of the rows / at all rows"] = (
            spark_small["peak_gb"] / spark["peak_gb"]
        )
    figures = {}
    for name, r in results.items():
        figures[f"{name} rows/s"] = r["rows"] / r["run_s"]
        figures[f"{name} start-up s"] = r["startup_s"]
        figures[f"{name} peak GB"] = r["peak_gb"]
    busy = {name: r["others_cpu_share"] for name, r in results.items() if r["others_cpu_share"] > IDLE_SHARE}
    if busy:
        shares = ", ".join(f"{name} {share:.0%}" for name, share in busy.items())
        raise SystemExit(
            f"not recorded: the machine was not idle (other processes used {shares} of its CPU, "
            f"limit {IDLE_SHARE:.0%}); rerun on a quiet machine"
        )
    # The default size keeps the name CI compares; another row count is its own record beside it.
    default_rows = parser.get_default("rows") if args.size == "full" else SMALL_ROWS
    bench_results.record(
        args,
        "batch" if args.rows == default_rows else f"batch, {args.rows:,} rows",
        params={
            "rows": args.rows,
            "trees": args.trees,
            "threads": args.threads,
            "spark": not args.skip_spark,
        },
        ratios=ratios,
        figures=figures,
    )


if __name__ == "__main__":
    main()
