"""The results store: one SQLite file, one row per completed run, keyed by its config hash.

A row is written in a single transaction after the run finishes, so a killed run (or a full
disk) leaves nothing behind, and the primary key makes a duplicate impossible. Runs in progress
are claimed in the same file, so concurrent sweeps never train one run twice. Tables, frontiers
and plots are pure functions of the rows.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from labelbudget.runs.record import Record
from labelbudget.util.errors import UserError

FIELDS = [f.name for f in dataclasses.fields(Record)]
JSON_FIELDS = {
    "config",
    "stages",
    "notes",
    "versions",
    "phases",
    "predictions",
    "inputs",
    "weak_quality",
    "classes",
    "confusion",
    "counts",
    "prices",
    "source_accuracy",
}

SCHEMA_VERSION = 10
"""The store's layout, in SQLite's `user_version`: 1 (unstamped, version 0 on disk) is the `runs`
table alone; 2 adds `claims`, the runs in progress; 3 adds `predictions` to `runs`; 4 adds
`inputs` (`runs.identity.inputs`); 5 adds `weak_quality`; 6 adds `eval_spent`; 7 adds
`weak_spent_once`; 8 adds `classes`, `macro_f1`, `calibration_error` and `confusion` (K classes);
9 adds `counts` and `prices` (labels and price per source); 10 adds `source_accuracy`.
Opening an older store to write migrates it in one transaction (its rows keep
NULL in the new columns, read as None); a newer one is refused. Reading never needs a migration."""


class StoreError(UserError):
    """The results folder or store cannot be used; nothing was written."""


class Store:
    """`results/labelbudget.sqlite`; safe to read while other processes write (a reader waits
    out a write's commit), and shared by concurrent sweeps through `Claims`."""

    def __init__(self, results: Path | str):
        if str(results).strip() in ("", "."):  # `--results ""` reads as the current folder
            raise StoreError(
                f"--results {str(results)!r} would put the store and its artifacts loose in the current "
                "folder",
                "pass a folder for them, e.g. --results results (or the current folder's absolute path)",
            )
        self.results = Path(results)
        self.path = self.results / "labelbudget.sqlite"
        self._keys: dict[str, str] = {}
        """run key -> config hash of the stored rows read so far (`_last_rowid`)."""
        self._last_rowid = 0

    # -- opening ---------------------------------------------------------------------------------

    def check(self) -> None:
        """Fail now, before any work, if runs could not be stored here: the results folder is a
        file or not writable, or the store file is not a labelbudget store of a known schema."""
        if self.results.exists() and not self.results.is_dir():
            raise StoreError(
                f"the results path {self.results} is a file, not a folder",
                "pass --results with a folder (it is created if missing)",
            )
        folder = self.results
        while not folder.exists():
            folder = folder.parent
        try:
            tempfile.TemporaryFile(dir=folder).close()
        except OSError as e:
            raise StoreError(
                f"the results folder {self.results} is not writable ({e.strerror})",
                "pass --results with a folder you can write to, or fix its permissions",
            ) from e
        if self.path.exists():
            with self._read():
                pass

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A connection for reading (the store must exist). A hot journal (a writer killed inside
        its transaction) is rolled back first: a read-only connection cannot, and would refuse
        the store until something opened it to write."""
        self._recover()
        with self._errors("read"):
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=60)
            try:
                self._check_schema(con, writing=False)
                yield con
            finally:
                con.close()

    def _recover(self) -> None:
        journal = self.path.with_name(self.path.name + "-journal")
        if not journal.exists() or journal.stat().st_size == 0:
            return
        try:  # a read-write open rolls the unfinished transaction back, restoring the store
            con = sqlite3.connect(self.path, timeout=60)
            try:
                con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                con.close()
        except sqlite3.OperationalError as e:
            if "locked" in str(e):
                return  # a live writer holds it: the read waits for its commit instead
            raise StoreError(
                f"{journal} is left from a write that was killed before it finished, and this "
                f"process cannot roll it back ({e}); every committed run is intact",
                f'open the store once where its folder is writable: python -c "import sqlite3; '
                f"sqlite3.connect('{self.path}').execute('select 1')\"",
            ) from e

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: committed on exit, rolled back on any error, so a failed
        write (a full disk, a kill) leaves the store as it was."""
        with self._errors("write to"):
            self.results.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            try:
                self._check_schema(con, writing=False)  # refuse before changing anything
                # A rollback journal, not WAL: readers need no side files (a full disk or a
                # read-only folder can still be read), and writes are one short transaction each.
                con.execute("PRAGMA journal_mode=DELETE")
                con.execute("BEGIN IMMEDIATE")
                try:
                    self._check_schema(con, writing=True)
                    yield con
                    con.execute("COMMIT")
                except BaseException:
                    if con.in_transaction:  # SQLite may have rolled back already (a full disk)
                        con.execute("ROLLBACK")
                    raise
            finally:
                con.close()

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise StoreError(
                    f"the store {self.path} stayed locked by another process for 60 s; the store "
                    "is unchanged",
                    "wait for the other labelbudget command using this results folder to finish, then "
                    "rerun: stored runs are kept and only the missing ones run",
                ) from e
            raise StoreError(
                f"could not {doing} the store {self.path}: {e}; the store is unchanged (an "
                "unfinished write is rolled back)",
                "free disk space or fix the folder's permissions, then rerun: stored runs are kept "
                "and only the missing ones run",
            ) from e
        except sqlite3.DatabaseError as e:
            raise StoreError(
                f"{self.path} is not a labelbudget store ({e})",
                f"move it aside (mv {self.path} {self.path}.bak) or pass another --results folder",
            ) from e

    def _check_schema(self, con: sqlite3.Connection, writing: bool) -> None:
        """Refuse what is not a labelbudget store (or a newer one); migrate an older one when
        writing. Version history: `SCHEMA_VERSION`."""
        version = con.execute("PRAGMA user_version").fetchone()[0]
        tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this labelbudget's ({SCHEMA_VERSION})",
                "upgrade labelbudget (pip install -U labelbudget), or pass another --results folder",
            )
        columns = {row[1] for row in con.execute("PRAGMA table_info(runs)")}
        if (tables and "runs" not in tables) or ("runs" in tables and "config_hash" not in columns):
            raise sqlite3.DatabaseError(f"its tables are {sorted(tables)}, not labelbudget's `runs`")
        if writing and version < SCHEMA_VERSION:
            cols = ", ".join(f"{n} TEXT PRIMARY KEY" if n == "config_hash" else n for n in FIELDS)
            con.execute(f"CREATE TABLE IF NOT EXISTS runs ({cols})")
            for name in FIELDS:  # fields added since the store was made: NULL in older rows
                if name not in columns | {"config_hash"} and columns:
                    con.execute(f"ALTER TABLE runs ADD COLUMN {name}")
            con.execute(
                "CREATE TABLE IF NOT EXISTS claims "
                "(run_key TEXT PRIMARY KEY, owner TEXT, host TEXT, pid INTEGER, expires REAL)"
            )
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- runs ------------------------------------------------------------------------------------

    def get(self, config_hash: str) -> Record | None:
        if not self.path.exists():
            return None
        with self._read() as con:
            fields = _present(con)
            row = con.execute(
                f"SELECT {', '.join(fields)} FROM runs WHERE config_hash = ?", (config_hash,)
            ).fetchone()
        if row is None:
            return None
        try:
            return _to_record(fields, row)
        except Exception as e:
            _skip(config_hash, e)
            return None

    def add(self, record: Record) -> bool:
        """Insert atomically; False (and nothing written) if this config is already stored."""
        values = [json.dumps(getattr(record, f)) if f in JSON_FIELDS else getattr(record, f) for f in FIELDS]
        with self._write() as con:
            if con.execute("SELECT 1 FROM runs WHERE config_hash = ?", (record.config_hash,)).fetchone():
                return False
            con.execute(
                f"INSERT INTO runs ({', '.join(FIELDS)}) VALUES ({', '.join('?' * len(FIELDS))})", values
            )
        return True

    def add_or_keep(self, record: Record) -> bool:
        """`add`, but a trained record is never thrown away for a store it cannot write to (still
        locked after the wait, a full disk): it is kept aside as JSON in `unstored/`, and the
        error says so; `import_kept` (every run and sweep calls it first) stores it later."""
        try:
            return self.add(record)
        except StoreError as e:
            kept = self.results / "unstored" / f"{record.config_hash}.json"
            try:
                from labelbudget.util.atomic import atomic_path

                kept.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(kept) as tmp:
                    Path(tmp).write_text(record.to_json())
            except OSError:
                raise e from None
            raise StoreError(
                f"{e.problem}; the trained run is kept in {kept}",
                "rerun the same command once the store is free: the kept run is stored first and "
                "nothing is trained again",
            ) from e

    def import_kept(self) -> int:
        """Store the records `add_or_keep` kept aside; returns how many were new."""
        folder = self.results / "unstored"
        added = 0
        for file in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                record = Record(**json.loads(file.read_text()))
            except (ValueError, TypeError) as e:
                _skip(file.stem, e)
                continue
            added += self.add(record)
            file.unlink()
        return added

    def run_keys(self) -> dict[str, str]:
        """Run identity (`runs.identity.run_identity`: config with its allocation instead of budget,
        cost and fraction, and the inputs it read) -> config hash, for every stored run."""
        if self.path.exists():
            with self._read() as con:
                self._read_keys(con)
        return dict(self._keys)

    def _read_keys(self, con: sqlite3.Connection) -> None:
        """Add the rows stored since the last call to the run-key index (configs are parsed
        once per process: a key is computed with this version's defaults for newer fields)."""
        from labelbudget.config import run_config_from_dict
        from labelbudget.runs.identity import run_identity

        if "runs" not in {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}:
            return
        read = "inputs" if "inputs" in _present(con) else "NULL"
        rows = con.execute(
            f"SELECT rowid, config_hash, config, {read} FROM runs WHERE rowid > ? ORDER BY rowid",
            (self._last_rowid,),
        ).fetchall()
        for rowid, h, c, i in rows:
            self._last_rowid = rowid
            try:
                stored = json.loads(i) if i is not None else None
                self._keys[run_identity(run_config_from_dict(json.loads(c)), stored)] = h
            except Exception as e:  # a corrupt row, or one a newer labelbudget wrote
                _skip(h, e)

    def find(self, config) -> Record | None:
        """The stored run of this config, or of another config that buys the same allocation."""
        from labelbudget.runs.identity import run_identity, stored_hash

        found = self.get(stored_hash(config))
        if found is None and (other := self.run_keys().get(run_identity(config))) is not None:
            found = self.get(other)
        return found

    def records(self) -> list[Record]:
        if not self.path.exists():
            return []
        with self._read() as con:
            if "runs" not in {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}:
                return []
            fields = _present(con)
            rows = con.execute(f"SELECT {', '.join(fields)} FROM runs ORDER BY started_at").fetchall()
        out = []
        for row in rows:
            try:
                out.append(_to_record(fields, row))
            except Exception as e:  # one bad row never takes the others down
                _skip(row[fields.index("config_hash")], e)
        return out


_SKIPPED: set[str] = set()


def _skip(config_hash: str, error: Exception) -> None:
    """Say once per process that a stored row cannot be read, and go on without it."""
    if config_hash not in _SKIPPED:
        _SKIPPED.add(config_hash)
        warnings.warn(
            f"skipping stored run {config_hash}: its row cannot be read by this labelbudget "
            f"({type(error).__name__}: {' '.join(str(error).split())[:120]})",
            stacklevel=3,
        )


def _present(con: sqlite3.Connection) -> list[str]:
    """The record fields this store's `runs` table has (an older store lacks the newer ones)."""
    columns = {row[1] for row in con.execute("PRAGMA table_info(runs)")}
    return [f for f in FIELDS if f in columns]


def _to_record(fields: list[str], row: tuple) -> Record:
    """A stored row as a record; raises on a row this version cannot read (its config included)."""
    from labelbudget.config import run_config_from_dict

    values = {
        f: json.loads(v) if f in JSON_FIELDS and v is not None else v
        for f, v in zip(fields, row, strict=True)
    }
    if not isinstance(values.get("config"), dict):
        raise ValueError("its config is missing")
    run_config_from_dict(values["config"])
    return Record(**values)


UNSUPPLIED = "unsupplied.json"
"""In a results folder: the runs sweeps skipped because the pool cannot supply them (run
identity -> why), so that the report counts them."""


def record_unsupplied(results: Path, skipped: dict[str, str]) -> None:
    import json

    from labelbudget.util.atomic import atomic_path

    path = Path(results) / UNSUPPLIED
    known = json.loads(path.read_text()) if path.exists() else {}
    if set(skipped) - set(known):
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps({**known, **skipped}, indent=1, sort_keys=True))


def unsupplied(results: Path) -> dict[str, str]:
    """The runs sweeps into `results` skipped as unsupplied (`record_unsupplied`)."""
    import json

    path = Path(results) / UNSUPPLIED
    return json.loads(path.read_text()) if path.exists() else {}
