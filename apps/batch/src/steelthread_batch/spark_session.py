"""Starting Spark so that its Python workers run this interpreter.

`PYSPARK_PYTHON` must be set before the session starts: Feast's `spark_conf` never reaches the workers,
and a worker on another interpreter cannot import this package (measured). Master `local[*]` runs Spark
embedded from the pyspark wheel (Java from the machine); a cluster URL submits the same job unchanged.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from steelthread_batch.errors import BatchInputError


def launched_by_spark_submit() -> bool:
    """spark-submit (and the Spark operator) start the JVM first and pass its gateway to Python."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


ARROW_UNBOUNDED_BYTES = str(2**31 - 1)
"""`maxBytesPerBatch` at Int.MaxValue turns off Spark's per-row size check of the Arrow batch being
built (a profile showed it on every row); batches stay bounded by `maxRecordsPerBatch`."""


def job_conf(arrow_rows: int = 65_536) -> dict[str, str]:
    """The Spark settings every steelthread job needs, local or on a cluster: one list, which the
    SparkApplication manifest repeats (a test keeps them in step)."""
    return {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.python.worker.reuse": "true",
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(arrow_rows),
        "spark.sql.execution.arrow.maxBytesPerBatch": ARROW_UNBOUNDED_BYTES,
    }


def spark_session(
    master: str | None,
    *,
    shuffle_partitions: int = 8,
    driver_memory: str = "2g",
    arrow_rows: int = 65_536,
) -> Any:
    """The active SparkSession, or a new one configured for steelthread.

    Without a master: the one spark-submit chose (cluster runs), else `local[*]` (embedded). In local
    mode the executors live in the driver's JVM, so `driver_memory` is the whole heap; the Python workers
    and Arrow buffers are outside it. `arrow_rows` sets the Arrow batch handed to each Python worker call
    (`spark.sql.execution.arrow.maxRecordsPerBatch`), the same knob as the local engine's batch size.
    """
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise BatchInputError(
            "the Spark engine needs Java 17 or 21 (`java` on PATH or JAVA_HOME); see docs/batch.md"
        )
    from pyspark.sql import SparkSession

    conf = job_conf(arrow_rows)
    active = SparkSession.getActiveSession()
    if active is not None:
        for key in (
            "spark.sql.execution.arrow.maxRecordsPerBatch",
            "spark.sql.execution.arrow.maxBytesPerBatch",
        ):
            active.conf.set(key, conf[key])  # SQL settings apply to a running session too
        return active
    builder = SparkSession.builder
    if master:
        builder = builder.master(master)
    elif not launched_by_spark_submit():
        builder = builder.master("local[*]")
    builder = (
        builder.appName("steelthread-batch")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.driver.memory", driver_memory)
        .config("spark.ui.enabled", "false")
    )
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


MEMORY_HINT = (
    "raise STEELTHREAD_SPARK_DRIVER_MEMORY (spark.driver.memory) in local mode, or "
    "spark.executor.memory and spark.executor.memoryOverhead on a cluster (docs/batch.md, Memory)"
)
_OUT_OF_MEMORY = (
    "OutOfMemoryError",
    "Java heap space",
    "GC overhead limit exceeded",
    "Memory was leaked",
    "Insufficient driver memory",
)
_LOST_WORKER = ("ExecutorLostFailure", "Python worker exited unexpectedly", "worker crashed")


def explain_failure(exc: BaseException) -> str | None:
    """One line for a Spark failure a person fixes with a setting (memory, a lost executor or Python
    worker, a JVM that died); None for anything else, which keeps its own message."""
    text = f"{type(exc).__name__}: {exc}"
    if any(marker in text for marker in _OUT_OF_MEMORY):
        return f"Spark ran out of memory: {MEMORY_HINT}"
    if any(marker in text for marker in _LOST_WORKER):
        return f"a Spark executor or Python worker was lost (often killed for memory): {MEMORY_HINT}"
    if isinstance(exc, ConnectionError) or type(exc).__name__ in {"Py4JNetworkError", "Py4JError"}:
        return f"the Spark JVM stopped answering (it usually died out of memory): {MEMORY_HINT}"
    return None


@contextmanager
def spark_errors() -> Iterator[None]:
    """Turn a Spark failure with a known remedy into a `BatchInputError` naming the setting to raise
    (the CLI prints it as one line), instead of a py4j trace."""
    try:
        yield
    except BatchInputError:
        raise
    except Exception as exc:
        line = explain_failure(exc)
        if line is None:
            raise
        raise BatchInputError(line) from None
