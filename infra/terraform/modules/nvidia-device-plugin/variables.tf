variable "chart_version" {
  type        = string
  description = "Version of NVIDIA's nvidia-device-plugin Helm chart."
  default     = "0.17.4"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.chart_version))
    error_message = "chart_version must be a semantic version such as 0.17.4."
  }
}

variable "namespace" {
  type        = string
  description = "Namespace of the device plugin DaemonSet."
  default     = "kube-system"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a valid Kubernetes namespace name (lowercase letters, digits, hyphens)."
  }
}
