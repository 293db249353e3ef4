"""Import every module of one workspace member, in an environment where only that member is installed.

CI's `members` job runs `uv sync --locked --package <member>` into a fresh environment and then this, so an
import the member does not declare (found only because another member happened to install it) fails here
with the module that needs it. `__main__` modules are skipped: importing one runs its command line.
Standard library only: the member's environment is all there is.

    python .github/scripts/import_member.py steelthread_serving [more top-level packages]
"""

from __future__ import annotations

import importlib
import pkgutil
import sys


def module_names(package: str) -> list[str]:
    """`package` and every module below it, `__main__` modules left out; imports `package` itself."""
    root = importlib.import_module(package)
    names = [package]
    path = getattr(root, "__path__", None)
    if path is not None:
        found = pkgutil.walk_packages(path, prefix=f"{package}.", onerror=lambda _name: None)
        names += sorted(m.name for m in found if m.name.rpartition(".")[2] != "__main__")
    return names


def import_all(packages: list[str]) -> tuple[list[str], list[str]]:
    """Import each module of `packages`; return the modules imported and one line per failure."""
    imported: list[str] = []
    failures: list[str] = []
    for package in packages:
        try:
            names = module_names(package)
        except Exception as exc:  # what an undeclared or broken import raises: report it, go on
            failures.append(f"{package}: {type(exc).__name__}: {exc}")
            continue
        for name in names:
            try:
                importlib.import_module(name)
            except Exception as exc:
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
            else:
                imported.append(name)
    return imported, failures


def main(argv: list[str] | None = None) -> int:
    packages = sys.argv[1:] if argv is None else argv
    if not packages:
        print("usage: import_member.py PACKAGE [PACKAGE ...]", file=sys.stderr)
        return 2
    imported, failures = import_all(packages)
    for line in failures:
        print(f"error: {line}", file=sys.stderr)
    print(f"imported {len(imported)} modules of {', '.join(packages)}; {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
