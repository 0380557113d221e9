"""What kills or tricks labelbudget: a writer killed inside its transaction, rows it cannot
read, state files and model folders that would run code, sweep files that expand, numbers that
overflow."""

import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_record

from labelbudget.config import run_config_from_dict
from labelbudget.runs.store import Store

WRITER = """
import json, sys, time
from labelbudget.runs.record import Record
from labelbudget.runs.store import Store
store = Store({results!r})
store.add(Record(**json.loads(open({record!r}).read())))  # committed
with store._write() as con:                               # killed inside this transaction
    con.execute("INSERT INTO runs (config_hash, config) VALUES ('half', '{{}}')")
    print("in transaction", flush=True)
    time.sleep(60)
"""


def test_a_writer_killed_inside_its_transaction_never_locks_the_store_out(tmp_path, capsys):
    """50 writers SIGKILLed between BEGIN and COMMIT: every committed row is there, the
    unfinished one is not, and every command opens the store."""
    from labelbudget.__main__ import main

    results = tmp_path / "results"
    journals = 0
    for seed in range(50):
        record = tmp_path / f"record{seed}.json"
        record.write_text(make_record(seed=seed).to_json())
        script = WRITER.format(results=str(results), record=str(record))
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "in transaction"
        child.send_signal(signal.SIGKILL)
        child.wait()
        journals += (results / "labelbudget.sqlite-journal").exists()
        if seed % 10 == 0:  # a command between kills finds the store whole
            assert len(Store(results).records()) == seed + 1
    assert journals >= 40  # the kill really left a hot journal (almost) every time
    rows = Store(results).records()
    assert sorted(r.seed for r in rows) == list(range(50)) and "half" not in {r.config_hash for r in rows}
    for argv in (["report", "--json"], ["plan", "--budget", "64"], ["sweep", "--dry-run", "--budgets", "64"]):
        assert main([*argv, "--results", str(results)]) == 0, argv
    capsys.readouterr()


def _insert_raw(results: Path, config_hash: str, config) -> None:
    con = sqlite3.connect(results / "labelbudget.sqlite")
    con.execute("INSERT INTO runs (config_hash, config) VALUES (?, ?)", (config_hash, config))
    con.commit()
    con.close()


def test_a_row_it_cannot_read_is_skipped_with_a_warning_never_the_rest(tmp_path, capsys):
    """Corrupt JSON, a NULL config, and a config with a field a newer labelbudget added."""
    from labelbudget.__main__ import main

    store = Store(tmp_path)
    for seed in range(3):
        store.add(make_record(seed=seed, f=0.0 if seed < 2 else 1.0))
    newer = json.loads(store.records()[0].to_json())["config"]
    newer["field_from_the_future"] = 1
    _insert_raw(tmp_path, "corrupt", "{not json")
    _insert_raw(tmp_path, "null", None)
    _insert_raw(tmp_path, "newer", json.dumps(newer))
    with pytest.warns(UserWarning, match="skipping stored run"):
        assert len(Store(tmp_path).records()) == 3
    assert len(Store(tmp_path).run_keys()) == 3  # said once per process, above
    for argv in (["report", "--json"], ["plan", "--budget", "64"], ["sweep", "--dry-run", "--budgets", "64"]):
        assert main([*argv, "--results", str(tmp_path)]) == 0, argv
    capsys.readouterr()


def test_state_files_are_data_a_planted_pickle_runs_nothing(tmp_path):
    """A paused run's state is safetensors + JSON: a pickle planted in its place is refused
    without being executed."""
    import pickle

    from labelbudget.labels.person import Person

    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    folder = tmp_path / "labeling" / "run"
    folder.mkdir(parents=True)
    person = Person(folder, ["a", "b"], 1, labels_file=tmp_path / "labels.csv")
    person.state_path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(Exception):  # noqa: B017 (safetensors' own error type)
        person.saved_state()
    assert not marker.exists()


def test_a_model_folder_with_its_own_code_is_refused_and_never_run(tmp_path, tiny_encoder):
    import shutil

    from labelbudget.models.backbone import check_model
    from labelbudget.util.errors import UserError

    folder = tmp_path / "custom"
    shutil.copytree(tiny_encoder, folder)
    marker = tmp_path / "payload-ran"
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "custom.Config", "AutoModel": "custom.Model"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "custom.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    with pytest.raises(UserError, match="ships its own Python code"):
        check_model(str(folder))
    assert not marker.exists()


def test_model_weights_are_opened_before_any_work(tmp_path, tiny_encoder):
    import shutil

    from labelbudget.models.backbone import check_model
    from labelbudget.util.errors import UserError

    folder = tmp_path / "broken"
    shutil.copytree(tiny_encoder, folder)
    (folder / "model.safetensors").write_bytes(b"not safetensors at all")
    with pytest.raises(UserError, match="weights model.safetensors cannot be read"):
        check_model(str(folder))


def test_yaml_aliases_are_refused_and_messages_stay_short(tmp_path):
    from labelbudget.sweeps.files import read_sweep
    from labelbudget.util.errors import UserError

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(
        'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nbudgets: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    )
    start = time.perf_counter()
    with pytest.raises(UserError, match="aliases"):
        read_sweep(bomb)
    assert time.perf_counter() - start < 1
    wide = tmp_path / "wide.yaml"
    wide.write_text("budgets: " + "x" * 100_000 + "\n")
    with pytest.raises(UserError) as e:
        read_sweep(wide)
    assert len(str(e.value)) < 400


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seed": 2**63}, "seed"),
        ({"seed": 2**64}, "seed"),
        ({"budget": 1e12, "weak_cost": 1e-300}, "budget"),
        ({"budget": 1e308}, "budget"),
    ],
)
def test_numbers_that_overflow_are_refused_up_front(kwargs, match):
    from labelbudget.config import RunConfig
    from labelbudget.util.errors import UserError

    with pytest.raises(UserError, match=match):
        RunConfig(**kwargs)


def test_an_edited_task_file_is_a_new_run_never_the_old_record(tiny_config, tmp_path):
    """Issue 19, item 5: flip the labels of the task file and rerun the same command: it runs
    again (a new record, from the new data) instead of answering "already stored"; the old
    record stays, and the store tells them apart by what they read."""
    import shutil

    import pandas as pd

    from labelbudget.runs.identity import inputs
    from labelbudget.runs.run import run
    from labelbudget.runs.store import Store
    from labelbudget.sweeps.sweep import pending

    data = tmp_path / "task.csv"
    shutil.copy(tiny_config.task.task, data)
    cfg = dataclasses.replace(
        tiny_config, learner="probe", task=dataclasses.replace(tiny_config.task, task=str(data))
    )
    first, ran = run(cfg, tmp_path / "results")
    assert ran and first.inputs == inputs(cfg) and "task_file" in first.inputs
    assert run(cfg, tmp_path / "results")[1] is False  # unchanged: stored
    frame = pd.read_csv(data)
    frame["label"] = 1 - frame["label"]
    frame.to_csv(data, index=False)
    assert list(pending([cfg], tmp_path / "results")) == [cfg]
    second, ran = run(cfg, tmp_path / "results")
    assert ran and second.config_hash != first.config_hash
    assert second.inputs["task_file"] != first.inputs["task_file"]
    assert {r.config_hash for r in Store(tmp_path / "results").records()} == {
        first.config_hash,
        second.config_hash,
    }
    assert list(pending([cfg], tmp_path / "results")) == []


def test_a_record_stored_before_inputs_were_recorded_is_still_found(tiny_config, tmp_path):
    """The rule for old rows: no inputs stored, matched by config alone (with today's inputs)."""
    from labelbudget.runs.identity import record_identity, run_identity

    record = make_record()
    assert record.inputs is None
    assert record_identity(record) == run_identity(run_config_from_dict(record.config))


def test_results_empty_or_dot_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    from labelbudget.runs.store import StoreError

    monkeypatch.chdir(tmp_path)
    for bad in ("", ".", Path("")):
        with pytest.raises(StoreError, match="loose in the current folder"):
            Store(bad)
    assert list(tmp_path.iterdir()) == []


def test_labels_that_are_words_are_the_classes_and_a_label_map_still_orders_them(tmp_path):
    """Labels with spaces are class names (sorted into ids), no --label-map needed; a map, as a
    user types it, still sets which one is class 1."""
    import pandas as pd

    from labelbudget.config import TaskConfig
    from labelbudget.tasks import load_task

    path = tmp_path / "t.csv"
    rows = [{"text": f"text number {i}", "label": "very good" if i % 2 else "not good"} for i in range(200)]
    pd.DataFrame(rows).to_csv(path, index=False)
    task = load_task(TaskConfig(task=str(path), test_size=20))
    assert task.space.names == ("not good", "very good") and len(task.pool) + len(task.test) == 200
    mapped = load_task(TaskConfig(task=str(path), test_size=20, label_map={"very good": 0, "not good": 1}))
    assert mapped.space.names == ("very good", "not good")
    given = {r["text"]: r["label"] for r in rows}
    for split in (mapped.pool, mapped.test):
        assert [mapped.space.names[c] for c in split.labels] == [given[t] for t in split.texts]


def test_claims_of_dead_processes_are_cleaned_when_seen(tmp_path):
    import socket

    from labelbudget.runs.claims import Claims

    store = Store(tmp_path)
    store.add(make_record())  # creates the store and its claims table
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    with store._write() as con:
        con.execute(
            "INSERT INTO claims VALUES (?, ?, ?, ?, ?)",
            ("k", "x", socket.gethostname(), int(dead.stdout), time.time() + 3600),
        )
    with Claims(store), store._read() as con:
        assert con.execute("SELECT COUNT(*) FROM claims").fetchone() == (0,)


def test_a_results_folder_removed_during_a_sweep_gives_a_true_summary(tiny_config, tmp_path):
    """Issue 19, item 8: the summary counts what the store holds, and says the folder went."""
    import shutil

    from labelbudget.sweeps.executors import EXECUTORS, register_executor, run_local
    from labelbudget.sweeps.grid import Grid, expand
    from labelbudget.sweeps.sweep import run_sweep

    results = tmp_path / "results"

    def run_then_remove(todo, progress):
        run_local(todo, progress)
        shutil.rmtree(results)

    if "remove-after" not in EXECUTORS:
        register_executor("remove-after", run_then_remove)
    grid = Grid(
        tasks=(tiny_config.task.task,),
        methods=("probe_seq_sft",),
        budgets=(8,),
        hq_fractions=(0.0, 1.0),
        seeds=(0,),
    )
    configs = expand(dataclasses.replace(tiny_config, learner="probe"), grid)
    report = run_sweep(configs, results, executor="remove-after")
    assert report.ran == 2 and report.held == 0
    assert "holds 0 of the grid's 2 runs" in report.summary(
        results
    ) and "removed or replaced" in report.summary(results)


def test_a_trained_run_is_never_thrown_away_for_a_locked_store(tiny_config, tmp_path, monkeypatch):
    """Issue 19, item 1: the record is kept aside and stored by the next command, untrained."""
    from labelbudget.runs import run as run_mod
    from labelbudget.runs.store import StoreError

    cfg = dataclasses.replace(tiny_config, learner="probe")
    real_add = Store.add

    def locked(self, record):
        raise StoreError("the store stayed locked by another process for 60 s", "wait")

    monkeypatch.setattr(Store, "add", locked)
    with pytest.raises(StoreError, match="the trained run is kept in") as e:
        run_mod.run(cfg, tmp_path)
    assert "nothing is trained again" in e.value.fix
    kept = list((tmp_path / "unstored").glob("*.json"))
    assert len(kept) == 1
    monkeypatch.setattr(Store, "add", real_add)
    monkeypatch.setattr(run_mod, "compute", lambda *a, **k: pytest.fail("trained again"))
    record, ran = run_mod.run(cfg, tmp_path)
    assert not ran and record.config_hash == kept[0].stem
    assert not list((tmp_path / "unstored").glob("*.json")) and len(Store(tmp_path).records()) == 1
