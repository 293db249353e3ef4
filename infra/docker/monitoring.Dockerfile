# syntax=docker/dockerfile:1.7
# steelthread-monitoring: the Evidently monitoring job (reference vs a window of the prediction log).
#   docker build -f infra/docker/monitoring.Dockerfile -t steelthread-monitoring .
# The training/serving skew check is on: steelthread-features is installed beside the job and
# STEELTHREAD_MONITOR_OFFLINE_FEATURES_FN names its point-in-time recomputation (the feature store is
# configured as for training: STEELTHREAD_OFFLINE_STORE_URI, STEELTHREAD_POSTGRES_DSN, STEELTHREAD_REDIS_URL).
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
    uv sync --locked --package steelthread-monitoring --package steelthread-features --package "steelthread-usecase-${USECASE}" --extra postgres --no-dev --no-editable

FROM ${PYTHON_IMAGE} AS runtime
ARG USECASE
RUN groupadd --system --gid 10001 steelthread \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin steelthread \
    && mkdir -p /var/lib/steelthread \
    && chown 10001:10001 /var/lib/steelthread
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    STEELTHREAD_USECASE=${USECASE} \
    STEELTHREAD_MONITOR_OFFLINE_FEATURES_FN=steelthread_features.monitoring:recompute \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STEELTHREAD_DATA_DIR=/var/lib/steelthread
USER 10001:10001
CMD ["steelthread-monitor", "--help"]
