"""Files that are either complete or absent (a killed run never leaves a partial one), and state
files that are data only: tensors in safetensors with their JSON metadata in its header, so that
reading a state back never executes anything (no pickle)."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: Path, suffix: str = ".tmp"):
    """A temporary path next to `path`, moved onto it if the block succeeds, removed if not."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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
