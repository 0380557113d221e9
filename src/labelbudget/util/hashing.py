"""One stable hash for every identity in labelbudget: configs, runs, artifacts, shared stages."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def stable_hash(obj: Any, length: int = 16) -> str:
    """sha256 of `obj` as JSON with sorted keys (first `length` hex digits): equal data, equal
    hash, in every process and on every machine."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:length]
