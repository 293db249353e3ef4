"""Spark's main application file for `steelthread-batch`.

spark-submit only treats a primary resource ending in `.py` as a Python application, and a console
script has no extension; this file runs the installed `steelthread-batch` entry point with the
SparkApplication's arguments, so the Spark operator runs exactly the CLI a person runs by hand.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points


def main() -> int:
    """Run the `steelthread-batch` console script; arguments come from sys.argv."""
    matches = entry_points(group="console_scripts", name="steelthread-batch")
    if not matches:
        print("steelthread-batch is not installed in this image", file=sys.stderr)
        return 2
    (entry,) = tuple(matches)
    sys.argv[0] = "steelthread-batch"
    result = entry.load()()
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
