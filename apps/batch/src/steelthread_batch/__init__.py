"""steelthread_batch."""
