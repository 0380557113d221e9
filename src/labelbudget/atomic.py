"""Files that are either complete or absent: a killed run never leaves a partial artifact."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch


def torch_save_atomic(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
