"""One stable hash for every identity in labelbudget: configs, runs, artifacts, shared stages."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any


def stable_hash(obj: Any, length: int = 16) -> str:
    """sha256 of `obj` as JSON with sorted keys (first `length` hex digits): equal data, equal
    hash, in every process and on every machine."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:length]


def file_digest(path: Path | str) -> str:
    """sha256 of a file's bytes (first 16 hex digits), computed once per (path, size, mtime)."""
    path = Path(path).resolve()
    stat = path.stat()
    return _digest(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]
