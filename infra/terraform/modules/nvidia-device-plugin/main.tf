# The NVIDIA device plugin advertises nvidia.com/gpu on GPU nodes so pods can request GPUs. It tolerates the GPU
# taint and is pinned to nodes that carry the GPU label set by the cluster module.
resource "helm_release" "nvidia_device_plugin" {
  name             = "nvidia-device-plugin"
  repository       = "https://nvidia.github.io/k8s-device-plugin"
  chart            = "nvidia-device-plugin"
  version          = var.chart_version
  namespace        = var.namespace
  create_namespace = false
  atomic           = true
  wait             = true

  values = [
    yamlencode({
      nodeSelector = {
        "nvidia.com/gpu.present" = "true"
      }
      tolerations = [
        {
          key      = "nvidia.com/gpu"
          operator = "Exists"
          effect   = "NoSchedule"
        }
      ]
      priorityClassName = "system-node-critical"
    })
  ]
}
