"""steelthread_serving."""
