#!/usr/bin/env bash
# Entrypoint of the steelthread-batch image, compatible with the pods that Spark on Kubernetes (and so the Spark
# operator) starts: `driver ...` runs spark-submit in client mode inside the driver pod, `executor` starts the
# Kubernetes executor backend. Anything else runs as given (e.g. `steelthread-batch score ...` embedded).
# Adapted from Apache Spark's kubernetes/dockerfiles/spark/entrypoint.sh, which the pyspark wheel does not ship.
set -euo pipefail

SPARK_CLASSPATH="${SPARK_CLASSPATH:-}:${SPARK_HOME}/jars/*"

# Executor JVM options arrive as SPARK_JAVA_OPT_0, SPARK_JAVA_OPT_1, ... in order.
SPARK_EXECUTOR_JAVA_OPTS=()
while IFS= read -r opt; do
  [[ -n "${opt}" ]] && SPARK_EXECUTOR_JAVA_OPTS+=("${opt}")
done < <(env | grep '^SPARK_JAVA_OPT_' | sort -t_ -k4 -n | sed 's/[^=]*=\(.*\)/\1/g' || true)

case "${1:-}" in
  driver)
    shift 1
    CMD=(
      "${SPARK_HOME}/bin/spark-submit"
      --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS}"
      --conf "spark.executorEnv.SPARK_DRIVER_POD_IP=${SPARK_DRIVER_BIND_ADDRESS}"
      --deploy-mode client
      "$@"
    )
    ;;
  executor)
    shift 1
    CMD=(
      "${JAVA_HOME}/bin/java"
      "${SPARK_EXECUTOR_JAVA_OPTS[@]}"
      -Xms"${SPARK_EXECUTOR_MEMORY}"
      -Xmx"${SPARK_EXECUTOR_MEMORY}"
      -cp "${SPARK_CLASSPATH}"
      org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend
      --driver-url "${SPARK_DRIVER_URL}"
      --executor-id "${SPARK_EXECUTOR_ID}"
      --cores "${SPARK_EXECUTOR_CORES}"
      --app-id "${SPARK_APPLICATION_ID}"
      --hostname "${SPARK_EXECUTOR_POD_IP}"
      --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID}"
      --podName "${SPARK_EXECUTOR_POD_NAME}"
    )
    ;;
  *)
    CMD=("$@")
    ;;
esac

exec /usr/bin/tini -s -- "${CMD[@]}"
