"""A PATH on which named system tools are missing, to test what a machine without them does."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def path_without(tools: Iterable[str], scratch: Path) -> str:
    """This process's PATH with every folder that holds one of `tools` replaced by a folder (under
    `scratch`) of links to that folder's other entries, so everything else is still found."""
    hidden = set(tools)
    folders: list[str] = []
    for index, entry in enumerate(os.environ.get("PATH", "").split(os.pathsep)):
        folder = Path(entry)
        if not entry or not folder.is_dir() or not any((folder / tool).exists() for tool in hidden):
            folders.append(entry)
            continue
        copy = scratch / f"path-{index}"
        copy.mkdir(parents=True)
        for item in folder.iterdir():
            if item.name not in hidden:
                (copy / item.name).symlink_to(item)
        folders.append(str(copy))
    return os.pathsep.join(folders)
