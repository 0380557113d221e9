"""The results store: one SQLite file, one row per completed run, keyed by its config hash.

A row is written in a single transaction after the run finishes, so a killed run leaves nothing
behind, and the primary key makes a duplicate impossible. Tables, frontiers and plots are pure
functions of these rows.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Record:
    """Everything about one run: what was asked, what was spent, what came out, and provenance."""

    config_hash: str
    config: dict[str, Any]
    task: str
    method: str
    strong_model: str
    weak_model: str
    budget: float
    weak_cost: float
    hq_fraction: float
    seed: int
    n_weak: int
    n_hq: int
    spent: float
    """n_weak * weak_cost + n_hq, from the meters: never above the budget."""
    accuracy: float
    accuracy_lo: float
    accuracy_hi: float
    auroc: float
    auroc_lo: float
    auroc_hi: float
    weak_agreement: float | None
    n_test: int
    weak_accuracy: float
    """The weak labels' accuracy on the same test set."""
    weak_pool: str
    data_fingerprint: str
    weak_key: str
    stages: list[dict[str, Any]]
    notes: list[str]
    device: str
    dtype: str
    started_at: str
    seconds: float
    weak_seconds: float
    versions: dict[str, str]
    git_commit: str | None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


FIELDS = [f.name for f in dataclasses.fields(Record)]
JSON_FIELDS = {"config", "stages", "notes", "versions"}


class Store:
    """`results/labelbudget.sqlite`; safe to read while another process writes (WAL)."""

    def __init__(self, results: Path):
        self.path = Path(results) / "labelbudget.sqlite"

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=60)
        con.execute("PRAGMA journal_mode=WAL")
        cols = ", ".join(f"{name} TEXT PRIMARY KEY" if name == "config_hash" else name for name in FIELDS)
        con.execute(f"CREATE TABLE IF NOT EXISTS runs ({cols})")
        return con

    def get(self, config_hash: str) -> Record | None:
        if not self.path.exists():
            return None
        with self._connect() as con:
            row = con.execute(
                f"SELECT {', '.join(FIELDS)} FROM runs WHERE config_hash = ?", (config_hash,)
            ).fetchone()
        return None if row is None else _to_record(row)

    def add(self, record: Record) -> bool:
        """Insert atomically; False (and nothing written) if this config is already stored."""
        values = [json.dumps(getattr(record, f)) if f in JSON_FIELDS else getattr(record, f) for f in FIELDS]
        con = self._connect()
        try:
            with con:
                con.execute(
                    f"INSERT INTO runs ({', '.join(FIELDS)}) VALUES ({', '.join('?' * len(FIELDS))})", values
                )
            return True
        except sqlite3.IntegrityError:
            return False
        finally:
            con.close()

    def hashes(self) -> set[str]:
        """Config hashes of every stored run."""
        if not self.path.exists():
            return set()
        con = self._connect()
        try:
            return {h for (h,) in con.execute("SELECT config_hash FROM runs")}
        finally:
            con.close()

    def run_keys(self) -> dict[str, str]:
        """Run identity (`budget.run_key`: config with its allocation instead of budget, cost and
        fraction) -> config hash, for every stored run."""
        from labelbudget.budget import run_key
        from labelbudget.config import run_config_from_dict

        if not self.path.exists():
            return {}
        con = self._connect()
        try:
            rows = con.execute("SELECT config_hash, config FROM runs").fetchall()
        finally:
            con.close()
        return {run_key(run_config_from_dict(json.loads(c))): h for h, c in rows}

    def find(self, config) -> Record | None:
        """The stored run of this config, or of another config that buys the same allocation."""
        from labelbudget.budget import run_key
        from labelbudget.config import config_hash

        found = self.get(config_hash(config))
        if found is None and (other := self.run_keys().get(run_key(config))) is not None:
            found = self.get(other)
        return found

    def records(self) -> list[Record]:
        if not self.path.exists():
            return []
        con = self._connect()
        try:
            rows = con.execute(f"SELECT {', '.join(FIELDS)} FROM runs ORDER BY started_at").fetchall()
        finally:
            con.close()
        return [_to_record(r) for r in rows]


def _to_record(row: tuple) -> Record:
    return Record(**{f: json.loads(v) if f in JSON_FIELDS else v for f, v in zip(FIELDS, row, strict=True)})
