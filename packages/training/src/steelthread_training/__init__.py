"""steelthread_training."""
