"""Silence the known, harmless warnings Feast and its dependencies emit on every call.

The workspace runs pytest with `filterwarnings = error`; callers of this library (training, serving,
batch tests) should not each have to know Feast's noise. Only these exact messages are ignored.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

_IGNORED: tuple[tuple[str, type[Warning]], ...] = (
    ("On demand feature view is an experimental feature", RuntimeWarning),
    ("fetch_arrow_table\\(\\) is deprecated", DeprecationWarning),
    ("The spark data source API is an experimental feature", RuntimeWarning),
)


@contextmanager
def quiet_feast() -> Iterator[None]:
    with warnings.catch_warnings():
        for message, category in _IGNORED:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield


_PROMETHEUS_ENV = ("PROMETHEUS_MULTIPROC_DIR", "PROMETHEUS_MULTIPROCESS_DIR")


def load_feast() -> None:
    """Import Feast without letting it switch the process's Prometheus client to multiprocess mode.

    `import feast` (feast.metrics) sets PROMETHEUS_MULTIPROC_DIR to a temp folder when it is unset.
    prometheus_client then stores values in files and its exposition helpers serve only those files,
    so an app that also exports its own metrics (serving) would lose them. prometheus_client is
    imported first (values stay in process memory) and the variables are restored afterwards.
    """
    import os
    import sys

    if "feast" in sys.modules:
        return
    before = {name: os.environ.get(name) for name in _PROMETHEUS_ENV}
    import prometheus_client  # noqa: F401  (chooses in-process values before Feast sets the env)

    try:
        with quiet_feast():
            import feast
            import feast.metrics  # noqa: F401
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
