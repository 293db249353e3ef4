# syntax=docker/dockerfile:1.7
# steelthread-serving-gpu: onnxruntime-gpu on a CUDA 12 + cuDNN 9 runtime. onnxruntime-gpu also ships the CPU
# execution provider, so the same image answers on a node without a GPU (CPU fallback) instead of failing.
#   docker build -f infra/docker/serving-gpu.Dockerfile -t steelthread-serving-gpu .
ARG USECASE=credit
# The use case the image serves (a folder under usecases/): installed beside the app, selected by
# STEELTHREAD_USECASE at run time.
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

FROM ${CUDA_IMAGE} AS base
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.12 ca-certificates libgomp1 \
    && rm -rf /var/lib/apt/lists/*

FROM base AS build
ARG USECASE
COPY --from=uv /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/bin/python3.12 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY packages/ packages/
COPY apps/ apps/
COPY examples/ examples/
COPY usecases/ usecases/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --package steelthread-serving --package "steelthread-usecase-${USECASE}" --extra gpu --extra postgres --extra explain --no-dev --no-editable

FROM base AS runtime
ARG USECASE
RUN groupadd --system --gid 10001 steelthread \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin steelthread \
    && mkdir -p /var/lib/steelthread \
    && chown 10001:10001 /var/lib/steelthread
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY apps/serving/flags.json /app/config/flags.json
ENV PATH=/app/.venv/bin:$PATH \
    STEELTHREAD_USECASE=${USECASE} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    STEELTHREAD_DATA_DIR=/var/lib/steelthread \
    STEELTHREAD_FLAGS_PATH=/app/config/flags.json
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["steelthread-serve", "--host", "0.0.0.0", "--port", "8000"]
