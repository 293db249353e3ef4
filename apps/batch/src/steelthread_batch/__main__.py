"""`python -m steelthread_batch` runs the CLI (same as the `steelthread-batch` console script)."""

from steelthread_batch.cli import main

main()
