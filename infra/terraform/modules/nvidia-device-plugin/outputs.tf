output "release_name" {
  description = "Name of the Helm release of the device plugin."
  value       = helm_release.nvidia_device_plugin.name
}

output "chart_version" {
  description = "Chart version deployed."
  value       = helm_release.nvidia_device_plugin.version
}
