"""The store: schema versions and migration, corrupt files, a full disk, and claims that let
several sweeps on one folder divide the work (each run trained exactly once)."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from conftest import make_record

from labelbudget.config import run_config_from_dict, to_dict
from labelbudget.runs.claims import Claims
from labelbudget.runs.store import FIELDS, SCHEMA_VERSION, Store, StoreError


def test_a_store_from_before_versioning_is_migrated_and_keeps_its_runs(tmp_path):
    """Version 1 (unstamped): the `runs` table alone, as labelbudget wrote it before claims."""
    old = make_record(seed=1)
    path = tmp_path / "labelbudget.sqlite"
    cols = ", ".join(f"{n} TEXT PRIMARY KEY" if n == "config_hash" else n for n in FIELDS)
    with closing(sqlite3.connect(path)) as con, con:
        con.execute(f"CREATE TABLE runs ({cols})")
    Store(tmp_path)  # opening alone writes nothing
    with closing(sqlite3.connect(path)) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 0
    assert Store(tmp_path).records() == []  # readable as it is
    assert Store(tmp_path).add(old)  # the first write migrates
    with closing(sqlite3.connect(path)) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")} >= {
            "runs",
            "claims",
        }
    assert Store(tmp_path).records() == [old]


def test_a_store_missing_a_newer_column_gets_it_and_keeps_its_rows(tmp_path):
    path = tmp_path / "labelbudget.sqlite"
    legacy = [f for f in FIELDS if f not in ("git_commit", "phases")]
    rec = make_record()
    with closing(sqlite3.connect(path)) as con, con:
        con.execute(f"CREATE TABLE runs ({', '.join(legacy)})")
        row = [
            json.dumps(getattr(rec, f)) if f in ("config", "stages", "notes", "versions") else getattr(rec, f)
            for f in legacy
        ]
        con.execute(f"INSERT INTO runs VALUES ({', '.join('?' * len(legacy))})", row)
    store = Store(tmp_path)
    assert store.add(make_record(seed=2))
    assert {r.seed: (r.git_commit, r.phases) for r in store.records()} == {0: (None, None), 2: (None, None)}


def test_corrupt_newer_and_foreign_stores_are_refused_and_left_as_they_are(tmp_path):
    cases = {
        "corrupt": lambda p: p.write_bytes(b"\x00garbage" * 500),
        "newer": lambda p: _sql(p, f"PRAGMA user_version = {SCHEMA_VERSION + 1}"),
        "foreign": lambda p: _sql(p, "CREATE TABLE photos (id INTEGER)"),
    }
    for name, make in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        make(folder / "labelbudget.sqlite")
        before = (folder / "labelbudget.sqlite").read_bytes()
        store = Store(folder)
        for action in (store.check, store.records, functools.partial(store.add, make_record())):
            with pytest.raises(StoreError) as e:
                action()
            assert str(folder / "labelbudget.sqlite") in e.value.problem and e.value.fix
        assert (folder / "labelbudget.sqlite").read_bytes() == before, name


def _sql(path: Path, statement: str) -> None:
    with closing(sqlite3.connect(path)) as con, con:
        con.execute(statement)


@pytest.fixture
def full_disk(tmp_path):
    """A 1 MiB tmpfs holding a store with one run, then filled to the last byte."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    ).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        store = Store(mount / "results")
        store.add(make_record(seed=0))
        with open(mount / "filler", "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
            except OSError:
                pass
        yield store
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_leaves_the_store_intact_and_says_so(full_disk):
    before = full_disk.records()
    with pytest.raises(StoreError) as e:
        for seed in range(1, 50):  # the WAL has some slack; a full disk shows within a few rows
            full_disk.add(make_record(seed=seed, task="x" * 2000))
    assert "full" in e.value.problem and "the store is unchanged" in e.value.problem
    assert "free disk space" in e.value.fix
    stored = full_disk.records()
    assert stored[: len(before)] == before  # nothing lost; rows written before the disk filled stay whole
    assert len({r.config_hash for r in stored}) == len(stored)


def test_a_full_disk_in_the_cli_is_one_message(full_disk, capsys, monkeypatch):
    from labelbudget.__main__ import main

    monkeypatch.setattr("labelbudget.analysis.report.write_report", _fill_and_write)
    assert main(["report", "--results", str(full_disk.results)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "No space left on device" in err and "fix: " in err


def _fill_and_write(results, out=None, notes=()):
    Path(results, "report.html").write_bytes(b"x" * 2_000_000)


def test_claims_exclude_a_live_holder_and_pass_on_a_dead_or_expired_one(tmp_path):
    cfg = run_config_from_dict(make_record(seed=3).config)
    a, b = Claims(Store(tmp_path)), Claims(Store(tmp_path))
    assert a.take(cfg) == "claimed"
    assert b.take(cfg) == "busy"
    a.release(cfg)
    assert b.take(cfg) == "claimed"
    # a holder that died on this host (its pid is gone) loses its claim at once
    with closing(sqlite3.connect(tmp_path / "labelbudget.sqlite")) as con, con:
        con.execute("UPDATE claims SET pid = ?, owner = 'dead'", (_dead_pid(),))
    assert a.take(cfg) == "claimed"
    # one on another host keeps it until it stops renewing it
    with closing(sqlite3.connect(tmp_path / "labelbudget.sqlite")) as con, con:
        con.execute("UPDATE claims SET host = 'elsewhere', owner = 'remote'")
    assert b.take(cfg) == "busy"
    with closing(sqlite3.connect(tmp_path / "labelbudget.sqlite")) as con, con:
        con.execute("UPDATE claims SET expires = ?", (time.time() - 1,))
    assert b.take(cfg) == "claimed"
    Store(tmp_path).add(make_record(seed=3))
    assert a.take(dataclasses.replace(cfg, budget=64.0)) == "stored"
    b.close()
    with closing(sqlite3.connect(tmp_path / "labelbudget.sqlite")) as con:
        assert con.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.slow
def test_two_sweeps_on_one_folder_train_every_run_exactly_once(tiny_config, tmp_path):
    """Two processes started together on one results folder: each run is trained by exactly one
    of them, and each one's summary adds up to the whole grid."""
    template = to_dict(tiny_config)
    for name in ("budget", "weak_cost", "hq_fraction", "seed", "method"):
        del template[name]
    sweep = tmp_path / "grid.json"
    sweep.write_text(
        json.dumps({"template": template, "budgets": [8], "hq_fractions": [0.0, 0.5, 1.0], "seeds": [0, 1]})
    )
    results = tmp_path / "results"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LABELBUDGET_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "labelbudget", "sweep", str(sweep), "--results", str(results)]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    done = [set(re.findall(r"done: .*\[([0-9a-f]{16})\]", out)) for out in outputs]
    stored = set(Store(results).run_keys().values())
    assert len(stored) == 6
    assert done[0] | done[1] == stored and not done[0] & done[1]  # each trained by exactly one
    assert all("discarded" not in out for out in outputs)
    for out, mine in zip(outputs, done, strict=True):
        m = re.search(
            r"sweep: (\d+) runs done now by this process, (\d+) already stored, (\d+) left to another", out
        )
        ran, already, busy = map(int, m.groups())
        assert ran == len(mine) and ran + already + busy == 6, out
    with closing(sqlite3.connect(results / "labelbudget.sqlite")) as con:
        assert con.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
