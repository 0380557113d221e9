"""Where a run's time and memory go: seconds and peak resident memory per phase.

A run records its phases (checks and data, weak labels, strong model load, each stage's training
and evaluations, test scoring) in its record's `phases`, so `labelbudget run --json` and
`benchmarks/bench_train.py --profile-run` show the breakdown. Peak memory per phase uses Linux's
resettable high-water mark (`/proc/self/clear_refs`); elsewhere it is the process's peak so far.
"""

from __future__ import annotations

import contextlib
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def peak_rss() -> int:
    """Bytes: the resident-memory high-water mark since the last reset (or since start)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def reset_peak_rss() -> None:
    """Start a new high-water mark at the current resident memory, where the OS allows it."""
    with contextlib.suppress(OSError):
        _CLEAR.write_text("5")


class Phases:
    """`with phases("name"): ...` adds the block's seconds to `name` and keeps the highest resident
    memory seen during any of its blocks. Phases do not nest (each resets the mark)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, float]] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        reset_peak_rss()
        start = time.perf_counter()
        try:
            yield
        finally:
            row = self.rows.setdefault(name, {"seconds": 0.0, "peak_rss_gb": 0.0})
            row["seconds"] = round(row["seconds"] + time.perf_counter() - start, 3)
            peak = peak_rss()
            row["peak_rss_gb"] = round(max(row["peak_rss_gb"], peak / 2**30), 3)

    def table(self) -> str:
        """The breakdown as aligned text lines."""
        width = max((len(k) for k in self.rows), default=0)
        return "\n".join(
            f"{name:<{width}}  {row['seconds']:8.1f} s  {row['peak_rss_gb']:5.2f} GB peak RSS"
            for name, row in self.rows.items()
        )
