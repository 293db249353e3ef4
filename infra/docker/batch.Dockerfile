# syntax=docker/dockerfile:1.7
# steelthread-batch: batch scoring, embedded or on Apache Spark. PySpark needs a Java runtime (17); the Spark
# operator starts driver and executor pods from this image through spark-entrypoint.sh.
#   docker build -f infra/docker/batch.Dockerfile -t steelthread-batch .
ARG USECASE=credit
# The use case the image serves (a folder under usecases/): installed beside the app, selected by
# STEELTHREAD_USECASE at run time.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

FROM ${PYTHON_IMAGE} AS build
ARG USECASE
COPY --from=uv /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY packages/ packages/
COPY apps/ apps/
COPY examples/ examples/
COPY usecases/ usecases/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --package steelthread-batch --package "steelthread-usecase-${USECASE}" --no-dev --no-editable

FROM ${PYTHON_IMAGE} AS runtime
ARG USECASE
RUN apt-get update \
    && apt-get install -y --no-install-recommends default-jre-headless tini procps \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 steelthread \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin steelthread \
    && mkdir -p /var/lib/steelthread /opt/spark/work-dir \
    && chown 10001:10001 /var/lib/steelthread /opt/spark/work-dir
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY infra/docker/spark/spark-entrypoint.sh /opt/entrypoint.sh
COPY infra/docker/spark/steelthread_batch_main.py /app/spark/steelthread_batch_main.py
ENV PATH=/app/.venv/bin:$PATH \
    STEELTHREAD_USECASE=${USECASE} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    JAVA_HOME=/usr/lib/jvm/default-java \
    SPARK_HOME=/app/.venv/lib/python3.11/site-packages/pyspark \
    PYSPARK_PYTHON=/app/.venv/bin/python \
    PYSPARK_DRIVER_PYTHON=/app/.venv/bin/python \
    STEELTHREAD_DATA_DIR=/var/lib/steelthread
USER 10001:10001
ENTRYPOINT ["/opt/entrypoint.sh"]
CMD ["steelthread-batch", "--help"]
