"""Where a run came from: git commit, lockfile hash. Recorded as MLflow tags so a version is traceable."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path


def find_upwards(name: str, start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / name).exists():
            return folder / name
    return None


def git_sha(start: Path | None = None) -> str:
    """HEAD's commit plus '-dirty' when the tree has changes; 'unknown' outside a git checkout."""
    cwd = start or Path.cwd()
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def lockfile_sha256(start: Path | None = None) -> str:
    path = find_upwards("uv.lock", start)
    if path is None:
        return "unknown"
    return hashlib.sha256(path.read_bytes()).hexdigest()
