"""Consumer example."""
