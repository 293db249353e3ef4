"""Starting Spark so that its Python workers run this interpreter.

`PYSPARK_PYTHON` must be set before the session starts: Feast's `spark_conf` never reaches the workers,
and a worker on another interpreter cannot import this package (measured). Master `local[*]` runs Spark
embedded from the pyspark wheel (Java from the machine); a cluster URL submits the same job unchanged.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from steelthread_batch.errors import BatchInputError


def launched_by_spark_submit() -> bool:
    """spark-submit (and the Spark operator) start the JVM first and pass its gateway to Python."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def spark_session(master: str | None, *, shuffle_partitions: int = 8, driver_memory: str = "2g") -> Any:
    """The active SparkSession, or a new one configured for steelthread.

    Without a master: the one spark-submit chose (cluster runs), else `local[*]` (embedded).
    """
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise BatchInputError(
            "the Spark engine needs Java 17 or 21 (`java` on PATH or JAVA_HOME); see docs/batch.md"
        )
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder
    if master:
        builder = builder.master(master)
    elif not launched_by_spark_submit():
        builder = builder.master("local[*]")
    builder = (
        builder.appName("steelthread-batch")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.driver.memory", driver_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.python.worker.reuse", "true")
    )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
