"""Claims on runs in progress, in the store's own file, so that concurrent sweeps (or a sweep
and Ray workers' driver) on one results folder divide the work and never train a run twice."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from typing import Literal

from labelbudget.runs.identity import run_identity
from labelbudget.runs.store import Store
from labelbudget.util.errors import UserError

CLAIM_TTL = 300.0
"""Seconds a claim lives unless its holder renews it (every third of this, while it runs); a
holder killed on this host is noticed at once (its process is gone), elsewhere after this."""


class Claims:
    """This process's claims on runs in progress, so that several sweeps (or a sweep and Ray
    workers' driver) on one store divide the work: a run is trained only by the process that
    claimed it, and a claim ends when the run is stored, when its holder exits, or when the
    holder died (its process is gone, or it stopped renewing the claim for `CLAIM_TTL`)."""

    def __init__(self, store: Store, ttl: float = CLAIM_TTL):
        self.store, self.ttl = store, ttl
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.owner = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def take(self, config) -> Literal["claimed", "stored", "busy"]:
        """Claim `config`'s run unless it is stored or another live process holds it."""
        key = run_identity(config)
        with self.store._write() as con:
            self.store._read_keys(con)
            if key in self.store._keys:
                return "stored"
            row = con.execute("SELECT host, pid, expires FROM claims WHERE run_key = ?", (key,)).fetchone()
            if row is not None and not self._stale(*row):
                return "busy"
            con.execute(
                "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                (key, self.owner, self.host, self.pid, time.time() + self.ttl),
            )
        self._start_renewing()
        return "claimed"

    def release(self, config) -> None:
        with self.store._write() as con:
            key = run_identity(config)
            con.execute("DELETE FROM claims WHERE run_key = ? AND owner = ?", (key, self.owner))

    def close(self) -> None:
        """Release every claim this process still holds (a run that failed)."""
        self._stop.set()
        if self.store.path.exists():
            with contextlib.suppress(UserError), self.store._write() as con:
                con.execute("DELETE FROM claims WHERE owner = ?", (self.owner,))

    def __enter__(self) -> Claims:
        """Claims of dead processes (on this host, or expired anywhere) are cleaned when seen."""
        if self.store.path.exists():
            with contextlib.suppress(UserError), self.store._write() as con:
                rows = con.execute("SELECT run_key, host, pid, expires FROM claims").fetchall()
                dead = [(key,) for key, host, pid, expires in rows if self._stale(host, pid, expires)]
                con.executemany("DELETE FROM claims WHERE run_key = ?", dead)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _stale(self, host: str, pid: int, expires: float) -> bool:
        if expires < time.time():
            return True
        if host != self.host:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def _start_renewing(self) -> None:
        if self._renewer is None:
            self._renewer = threading.Thread(target=self._renew, daemon=True, name="labelbudget-claims")
            self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            with contextlib.suppress(UserError), self.store._write() as con:
                con.execute(
                    "UPDATE claims SET expires = ? WHERE owner = ?", (time.time() + self.ttl, self.owner)
                )
