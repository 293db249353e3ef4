"""steelthread_features."""
