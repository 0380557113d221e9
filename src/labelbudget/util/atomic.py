"""Files that are either complete or absent (a killed run never leaves a partial one), written
only where they were asked for (never through a symbolic link), and state files that are data
only: tensors in safetensors with their JSON metadata in its header, so that reading a state back
never executes anything (no pickle)."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from labelbudget.util.errors import UserError


@contextmanager
def atomic_path(path: Path, suffix: str = ".tmp"):
    """A temporary path next to `path`, moved onto it if the block succeeds, removed if not. The
    move replaces a link standing at `path` (the link, not the file it points to), so a write
    never lands outside the folder it was asked for; a full disk leaves the old file (or none),
    never an empty or half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def refuse_links(folder: Path) -> None:
    """Refuse a results folder that holds a symbolic link (a file or folder inside it pointing
    elsewhere), before anything is written: labelbudget writes reports, labeling requests and
    saved states only inside the folder it was given, and a link planted there would send them
    wherever it points. The folder itself may be a link: the user named it."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for parent, folders, files in os.walk(folder):  # never descends into a linked folder
        for name in sorted(folders + files):
            path = Path(parent, name)
            if path.is_symlink():
                raise UserError(
                    f"{path} is a symbolic link (to {os.readlink(path)}): labelbudget writes only "
                    f"inside the results folder {folder}, never through a link",
                    f"remove the link (rm {path}), or pass the folder it points to as --results",
                )


def save_state(path: Path, tensors: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write tensors (safetensors) and JSON-able metadata in one file, atomically."""
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous() for k, v in tensors.items()}, tmp, {"meta": json.dumps(meta)})


def load_state(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(tensors, metadata) of a file `save_state` wrote."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iterator)
        meta = json.loads((f.metadata() or {}).get("meta", "{}"))
    return tensors, meta
