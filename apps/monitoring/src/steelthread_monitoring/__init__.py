"""steelthread_monitoring."""
