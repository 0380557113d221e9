"""Where a run's time and memory go: seconds and peak resident memory per phase.

A run records its phases (checks and data, weak labels, strong model load, each stage's training
and evaluations, test scoring) in its record's `phases`, so `labelbudget run --json` and
`benchmarks/bench_train.py --profile-run` show the breakdown. Peak memory per phase uses Linux's
resettable high-water mark (`/proc/self/clear_refs`); elsewhere it is the process's peak so far.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def _status_bytes(field: str) -> int | None:
    """A memory field of /proc/self/status (`VmRSS`, `VmHWM`) in bytes; None where absent."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_rss() -> int:
    """Bytes: the resident-memory high-water mark since the last reset (or since start)."""
    peak = _status_bytes("VmHWM")
    if peak is not None:
        return peak
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def resident() -> int:
    """Bytes of resident memory now (0 where /proc is absent)."""
    return _status_bytes("VmRSS") or 0


def _glibc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _glibc()

TRIM_SLACK = 3 << 29
"""Bytes (1.5 GiB) that resident memory may grow within a stage before freed heap memory is
handed back to the OS."""


def trim_heap() -> None:
    """Hand freed heap memory back to the OS. glibc keeps what tensors of changing sizes free, so
    resident memory stays at its high-water mark and fragments upward: Gemma-3-270M LoRA steps on
    batches of 32 texts of 5-120 tokens held 8.2 GB resident after eight steps, and 1.1 GB with
    `malloc_trim` after each (peak within a step 3.5 GB). Trimming costs page faults when the
    memory is needed again (~14% of a step's time if done every step), so `MemoryGuard` does it
    only when memory has grown."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


class MemoryGuard:
    """Call after each step: trims the heap when resident memory exceeds what it was at the guard's
    creation by more than `slack` bytes."""

    def __init__(self, slack: int = TRIM_SLACK):
        self.limit = resident() + slack

    def __call__(self) -> None:
        if resident() > self.limit:
            trim_heap()


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
            trim_heap()  # the next phase starts from what is really in use

    def records(self) -> list[dict]:
        """One row per phase, in the order they first ran: phase, seconds, peak_rss_gb."""
        return [{"phase": name, **row} for name, row in self.rows.items()]
