"""Bad input, as a new user types it: every case gets one message naming the problem and the fix
(`labelbudget: error: ...` then `  fix: ...`), a non-zero exit, no traceback, and leaves the
results folder as it was (its stored run intact, no artifacts).

The table runs the CLI's `main` in this process (a subprocess per case would cost ~4 s of
imports each); two cases at the end go through `python -m labelbudget` as a user would.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_record, synthetic_texts

from labelbudget.__main__ import main
from labelbudget.config import TaskConfig
from labelbudget.runs.store import Store


def _csv(path: Path, texts, labels) -> None:
    pd.DataFrame({"text": texts, "label": labels}).to_csv(path, index=False)


def _files(d: Path) -> dict[str, Path]:
    """The bad (and good) inputs, written once per test into `d`."""
    f = {}
    f["good"] = d / "good.csv"
    synthetic_texts(200).to_csv(f["good"], index=False)
    f["multi"] = d / "multi.csv"
    _csv(f["multi"], [f"t{i}" for i in range(30)], [i % 3 for i in range(30)])
    f["one"] = d / "one.csv"
    _csv(f["one"], [f"t{i}" for i in range(30)], [1] * 30)
    f["header"] = d / "header.csv"
    f["header"].write_text("text,label\n")
    f["zero"] = d / "zero.csv"
    f["zero"].write_bytes(b"")
    f["broken"] = d / "broken.jsonl"
    f["broken"].write_text('{"text": "a", "label": 1}\n{"text": "b", "lab\n')
    f["array"] = d / "array.jsonl"
    f["array"].write_text('{"text": "a", "label": 1}\n[1, 2]\n')
    f["txt"] = d / "data.txt"
    f["txt"].write_text("hello\n")
    f["nan"] = d / "nan.csv"
    _csv(f["nan"], ["NaN", "nan", "None", "", "  "] * 8, [0, 1] * 20)
    f["twice_jsonl"] = d / "twice.jsonl"
    f["twice_jsonl"].write_text('{"text": "a", "label": 0, "label": 1}\n')
    f["twice_csv"] = d / "twice.csv"
    f["twice_csv"].write_text("text,label,text\na,0,b\n")
    f["nan_jsonl"] = d / "nan.jsonl"
    f["nan_jsonl"].write_text("".join(json.dumps({"text": None, "label": i % 2}) + "\n" for i in range(20)))
    f["repeated"] = d / "repeated.csv"
    _csv(f["repeated"], ["same text"] * 40, [0, 1] * 20)
    f["words"] = d / "words.csv"
    _csv(f["words"], [f"t{i}" for i in range(40)], ["pos", "neg"] * 20)
    f["latin1"] = d / "latin1.csv"
    f["latin1"].write_bytes("text,label\ncaf\xe9,1\n".encode("latin-1"))
    f["ragged"] = d / "ragged.csv"
    f["ragged"].write_text("text,label\na,1\nb,0,extra,cells\n")
    f["small"] = d / "small.csv"
    synthetic_texts(30).to_csv(f["small"], index=False)
    f["bad_model"] = d / "bad-model"
    f["bad_model"].mkdir()
    (f["bad_model"] / "config.json").write_text('{"model_type": "no-such-architecture"}')
    f["a_file"] = d / "a-file"
    f["a_file"].write_text("not a folder")
    f["headerless"] = d / "headerless.csv"
    first = "Unions representing workers at Turner Newall say they are upset"
    f["headerless"].write_text(f"{first},Business\nb,World\n")
    return f


SWEEPS = {
    "scalar axis": "budgets: abc\n",
    "empty axis": "budgets: []\n",
    "fractional seed": "seeds: [0.5]\n",
    "wrong nested type": "template:\n  task: {test_size: many}\n",
    "duplicate key": "budgets: [16]\nbudgets: [64]\n",
    "python tag": "template: !!python/object:os.system {}\n",
    "unknown key": "budget: [16]\n",
    "unknown template field": "template: {budgets: 16}\n",
    "unknown nested field": "template:\n  train: {learning_rate: 0.1}\n",
    "zero cost": "weak_costs: [0]\n",
    "fraction above one": "hq_fractions: [1.5]\n",
    "yaml syntax": "budgets: [16, 64\n",
    "not a mapping": "- 16\n- 64\n",
    "negative seed": "seeds: [-1]\n",
    "infinite budget": "budgets: [.inf]\n",
}

R = "--results"
# case: (argv with {placeholders}, expected text in the message, whose message: ours or tyro's)
CASES: dict[str, tuple[list[str], str]] = {
    # -- run: every config field's type and range, before anything loads
    "budget inf": (["run", "--budget", "inf"], "budget: must be a finite number"),
    "budget nan": (["run", "--budget", "nan"], "budget: must be a finite number"),
    "budget negative": (["run", "--budget", "-1"], "budget: must be positive"),
    "budget zero": (["run", "--budget", "0"], "budget: must be positive"),
    "budget text": (["run", "--budget", "lots"], "--budget"),
    "weak cost zero": (["run", "--weak-cost", "0"], "weak_cost: must be positive"),
    "weak cost negative": (["run", "--weak-cost", "-0.5"], "weak_cost: must be positive"),
    "weak cost above HQ price": (["run", "--weak-cost", "2"], "at most 1"),
    "fraction above one": (["run", "--hq-fraction", "1.5"], "hq_fraction: must be in [0, 1]"),
    "fraction negative": (["run", "--hq-fraction", "-0.1"], "hq_fraction: must be in [0, 1]"),
    "seed negative": (["run", "--seed", "-1"], "seed: must be >= 0"),
    "seed fractional": (["run", "--seed", "0.5"], "--seed"),
    "data seed negative": (["run", "--data-seed", "-3"], "data_seed: must be >= 0"),
    "test size one": (["run", "--test-size", "1"], "test_size: must be an even number of at least 2"),
    "odd test size": (["run", "--test-size", "3"], "pass --test-size 4"),
    "text column is the label column": (
        ["run", "--task", "{good}", "--text-column", "label", "--label-column", "label"],
        "is the label column too",
    ),
    "labels file without a person as oracle": (
        ["run", "--task", "{good}", "--labels-file", "{good}"],
        "add --oracle file",
    ),
    "jsonl key given twice": (["run", "--task", "{twice_jsonl}"], "line 1: the key 'label' is given twice"),
    "csv column given twice": (["run", "--task", "{twice_csv}"], "names the column 'text' twice"),
    "huge seed": (["run", "--seed", "9223372036854775808"], "seed: must be an integer below 2**63"),
    "budget that buys too many labels": (
        ["run", "--budget", "1e12", "--weak-cost", "1e-300"],
        "fewer than 10^12",
    ),
    "max pool zero": (["run", "--max-pool", "0"], "max_pool: must be positive"),
    "weak n train one": (["run", "--weak-n-train", "1"], "weak_n_train: must be at least 2"),
    "weak pool fraction zero": (["run", "--weak-max-pool-fraction", "0"], "weak_max_pool_fraction"),
    "lr negative": (["run", "--lr", "-1"], "lr: must be positive"),
    "batch size zero": (["run", "--batch-size", "0"], "batch_size: must be at least 1"),
    "patience zero": (["run", "--patience", "0"], "patience: must be at least 1"),
    "weak target accuracy of a coin": (["run", "--weak-target-accuracy", "0.5"], "weak_target_accuracy"),
    "unknown test mix": (["run", "--test-mix", "skewed"], "--test-mix"),
    "headerless file": (["run", "--task", "{headerless}"], "seems to have no header row"),
    "beta2 one": (["run", "--beta2", "1"], "beta2: must be in (0, 1)"),
    "grad norm zero": (["run", "--max-grad-norm", "0"], "max_grad_norm: must be positive"),
    "probe layer two": (["run", "--probe-layer", "2"], "probe_layer: must be in [0, 1]"),
    "temperature negative": (["run", "--temperature", "-1"], "temperature: must be >= 0"),
    "k shot zero": (["run", "--k-shot", "0"], "k_shot: must be at least 1"),
    "label map value": (["run", "--label-map", "pos", "2"], "label_map: values must be 0 or 1"),
    "empty task": (["run", "--task", " "], "task: is empty"),
    "unknown choice": (["run", "--pooling", "max"], "Invalid choice"),
    "unknown flag": (["run", "--budjet", "16"], "Unrecognized options"),
    # -- run: names, and what a method can do with what the budget buys
    "unknown task": (["run", "--task", "glue-nonsense"], "unknown task 'glue-nonsense'"),
    "unknown method": (["run", "--task", "{good}", "--method", "magic"], "unknown method 'magic'"),
    "unknown strong model": (
        ["run", "--task", "{good}", "--strong-model", "no-such-org/no-such-model"],
        "unknown model 'no-such-org/no-such-model'",
    ),
    "unknown weak model": (["run", "--task", "{good}", "--weak-model", "nonexistent-weak"], "unknown model"),
    "model directory that cannot load": (
        ["run", "--task", "{good}", "--strong-model", "{bad_model}"],
        "has no weights",
    ),
    "budget too small for a stage": (
        ["run", "--task", "{good}", "--budget", "2", "--hq-fraction", "0.5"],
        "a stage needs at least 3",
    ),
    "icl with k shot": (["run", "--method", "icl", "--k-shot", "3"], "--k-shot does not apply"),
    "pool too small": (
        ["run", "--task", "{good}", "--test-size", "40", "--budget", "100", "--hq-fraction", "0"]
        + ["--weak-cost", "0.01"],
        "the pool of",
    ),
    # -- run: the user's file
    "missing file": (["run", "--task", "{tmp}/nope.csv"], "does not exist"),
    "unknown file type": (["run", "--task", "{txt}"], "unknown type '.txt'"),
    "wrong text column": (
        ["run", "--task", "{good}", "--text-column", "sentence"],
        "no text column 'sentence'",
    ),
    "wrong label column": (["run", "--task", "{good}", "--label-column", "y"], "no label column 'y'"),
    "non-binary labels": (["run", "--task", "{multi}"], "not binary"),
    "one class": (["run", "--task", "{one}"], "only class 1"),
    "header only": (["run", "--task", "{header}"], "no examples"),
    "zero bytes": (["run", "--task", "{zero}"], "could not parse"),
    "malformed jsonl": (["run", "--task", "{broken}"], "line 2"),
    "jsonl line not an object": (["run", "--task", "{array}"], "line 2: expected a JSON object"),
    "NaN and empty texts": (["run", "--task", "{nan}"], "dropped 40 rows with empty or missing text"),
    "null texts in jsonl": (["run", "--task", "{nan_jsonl}"], "dropped 20 rows with empty or missing text"),
    "one repeated text": (["run", "--task", "{repeated}"], "distinct texts"),
    "label map names absent labels": (
        ["run", "--task", "{words}", "--label-map", "positive", "1", "negative", "0"],
        "does not contain: ['negative', 'positive']",
    ),
    "words as labels without a map": (["run", "--task", "{words}"], "--label-map neg 0 pos 1"),
    "not utf-8": (["run", "--task", "{latin1}"], "could not parse"),
    "ragged csv": (["run", "--task", "{ragged}"], "could not parse"),
    "test set larger than data": (["run", "--task", "{small}", "--test-size", "100"], "--test-size (at most"),
    # -- the results folder and store, checked before any work
    "results is a file": (["run", "--task", "{good}", R, "{a_file}"], "is a file, not a folder"),
    "corrupt store: run": (["run", "--task", "{good}", R, "{corrupt}"], "is not a labelbudget store"),
    "corrupt store: report": (["report", R, "{corrupt}"], "is not a labelbudget store"),
    "corrupt store: plan": (["plan", "--budget", "64", R, "{corrupt}"], "is not a labelbudget store"),
    "corrupt store: sweep": (["sweep", "--dry-run", R, "{corrupt}"], "is not a labelbudget store"),
    "corrupt store: weak": (["weak", "--task", "{good}", R, "{corrupt}"], "is not a labelbudget store"),
    "newer store": (["run", "--task", "{good}", R, "{newer}"], "newer than this labelbudget"),
    "foreign database": (["report", R, "{foreign}"], "not labelbudget's `runs`"),
    "plan on an empty folder": (["plan", "--budget", "64", R, "{tmp}/empty"], "no stored runs"),
    "report on an empty folder": (["report", R, "{tmp}/empty"], "no stored runs"),
    "plan negative budget": (["plan", "--budget", "-1"], "--budget must be a positive number"),
    "plan infinite budget": (["plan", "--budget", "inf"], "--budget must be a positive number"),
    "plan zero weak cost": (["plan", "--budget", "64", "--weak-cost", "0"], "--weak-cost must be in (0, 1]"),
    # -- sweeps: flags and files
    "sweep empty budgets flag": (["sweep", "--dry-run", "--budgets"], "--budgets"),
    "sweep negative budget flag": (["sweep", "--dry-run", "--budgets", "-16"], "budgets must be positive"),
    "sweep negative seed flag": (["sweep", "--dry-run", "--seeds", "-1"], "seeds must be non-negative"),
    "sweep refused run": (
        ["sweep", "--dry-run", "--budgets", "2", "--hq-fractions", "0.5"],
        "would be refused",
    ),
    "sweep file missing": (["sweep", "{tmp}/nope.yaml"], "does not exist"),
    "sweep json duplicate key": (["sweep", "{sweep_json_dupe}"], "given twice"),
    **{
        f"sweep file: {name}": (["sweep", "{sweep_" + name.replace(" ", "_") + "}"], expected)
        for name, expected in {
            "scalar axis": "budgets must be a list, got 'abc'",
            "empty axis": "the sweep's budgets is empty",
            "fractional seed": "seeds: must be a list of integers",
            "wrong nested type": "test_size: must be an integer below 2**63, got 'many'",
            "duplicate key": "the key 'budgets' is given twice (line 2)",
            "python tag": "could not parse",
            "unknown key": "unknown keys ['budget']",
            "unknown template field": "unknown template field 'budgets'",
            "unknown nested field": "template.train must be a mapping of its fields",
            "zero cost": "weak_costs must be prices in (0, 1]",
            "fraction above one": "hq_fractions must be fractions in [0, 1]",
            "yaml syntax": "could not parse",
            "not a mapping": "must hold a mapping",
            "negative seed": "seeds must be non-negative",
            "infinite budget": "budgets: must be a list of finite numbers",
        }.items()
    },
}


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Input files, stores (corrupt, newer, foreign) and a good results folder with one run,
    all under tmp_path; the working directory is tmp_path (the default `results/` lands there)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LABELBUDGET_CACHE", str(tmp_path / "cache"))
    f = {k: str(v) for k, v in _files(tmp_path).items()}
    Store(tmp_path / "results").add(make_record())  # the default --results: must survive
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "labelbudget.sqlite").write_text("this is not a database, it is a text file " * 40)
    newer = tmp_path / "newer"
    Store(newer).add(make_record())
    with closing(sqlite3.connect(newer / "labelbudget.sqlite")) as con:
        con.execute("PRAGMA user_version = 99")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    with closing(sqlite3.connect(foreign / "labelbudget.sqlite")) as con:
        con.execute("CREATE TABLE photos (id INTEGER)")
    for name, text in SWEEPS.items():
        path = tmp_path / f"sweep_{name.replace(' ', '_')}.yaml"
        path.write_text(text)
        f[f"sweep_{name.replace(' ', '_')}"] = str(path)
    (tmp_path / "dupe.json").write_text('{"budgets": [16], "budgets": [64]}')
    f["sweep_json_dupe"] = str(tmp_path / "dupe.json")
    return {"tmp": str(tmp_path), "corrupt": str(corrupt), "newer": str(newer), "foreign": str(foreign), **f}


def snapshot(root: Path) -> dict[str, str]:
    """Every file under root (SQLite's -wal/-shm side files aside) and its content hash, plus
    the store's rows."""
    out = {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }
    for store in root.rglob("labelbudget.sqlite"):
        try:
            out[f"rows of {store}"] = str(sorted(Store(store.parent).run_keys().values()))
        except Exception as e:  # a corrupt store stays exactly as corrupt
            out[f"rows of {store}"] = type(e).__name__
    return out


def test_there_are_at_least_55_cases():
    assert len(CASES) >= 55


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_one_clear_error_and_changes_nothing(case, env, tmp_path, capsys):
    args, expected = CASES[case]
    args = [a.format(**env) for a in args]
    before = snapshot(tmp_path)
    try:
        code = main(args)
    except SystemExit as e:  # tyro's own usage errors (a flag's type, an unknown flag)
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert expected in err, err
    if err.startswith("labelbudget: error: "):
        lines = err.strip().splitlines()
        assert len(lines) == 2 and lines[1].strip().startswith("fix: "), err
    else:  # tyro's box: the flag's problem and where help is
        assert "labelbudget" in err and "--help" in err, err
    assert snapshot(tmp_path) == before
    assert not list(tmp_path.rglob("artifacts"))


def test_read_only_results_folder_is_refused_before_any_work(env, tmp_path, capsys):
    """A read-only filesystem (a tmpfs mounted read-only; root may write anywhere else)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], capture_output=True
    ).returncode:
        pytest.skip("cannot mount a read-only tmpfs here (needs root)")
    try:
        assert main(["run", "--task", env["good"], "--results", str(ro / "results")]) == 2
        err = capsys.readouterr().err
        assert "is not writable" in err and "fix: " in err and "Traceback" not in err
    finally:
        subprocess.run(["umount", str(ro)], check=True)


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "labelbudget", *map(str, args)], capture_output=True, text=True, timeout=300
    )


def test_as_a_user_types_it_one_message_and_debug_shows_the_traceback(tmp_path):
    out = cli("run", "--budget", "inf", "--results", tmp_path / "r")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("labelbudget: error: budget: must be a finite number")
    debug = cli("run", "--budget", "inf", "--results", tmp_path / "r", "--debug")
    assert debug.returncode == 2 and "Traceback" in debug.stderr
    assert not (tmp_path / "r").exists()


def test_list_names_tasks_methods_and_models():
    out = cli("list")
    assert out.returncode == 0
    for name in ("tweet-sentiment", "seq_sft", "gemma-3-270m", "minilm-l6", "smollm2-135m"):
        assert name in out.stdout


def test_weak_measures_any_weak_labels_against_the_gold_test_split(tmp_path):
    from labelbudget.tasks import load_task

    data = synthetic_texts(200, seed=4)
    flip = np.random.default_rng(1).random(len(data)) < 0.25
    data["p"] = np.where(flip, 1 - data["label"], data["label"]) * 0.8 + 0.1
    data.loc[:9, "p"] = np.nan  # rows without a weak label
    path = tmp_path / "mine.csv"
    data.to_csv(path, index=False)
    out = cli(
        "weak", "--task", path, "--test-size", 40, "--weak-labels", "column:p", "--results", tmp_path / "r"
    )
    assert out.returncode == 0, out.stderr
    task = load_task(TaskConfig(task=str(path), test_size=40))
    p = data.set_index("text")["p"]
    test = [(p[t], y) for t, y in zip(task.test.texts, task.test.labels, strict=True) if not np.isnan(p[t])]
    accuracy = np.mean([(v > 0.5) == y for v, y in test])
    assert f"on {len(test)} test texts accuracy {accuracy:.3f}" in out.stdout, out.stdout
    assert "calibration error" in out.stdout and "gold 1 labeled 0/1" in out.stdout


def test_labels_files_after_one_flag_or_each_after_its_own():
    """`--labels-file A B` (as people type it) and `--labels-file A --labels-file B` (as the
    waiting message says) give the run the same files, in order."""
    import tyro

    from labelbudget.__main__ import Command

    def files(*argv: str) -> list[Path]:
        return tyro.cli(Command, args=["run", *argv]).labels_files

    assert files("--labels-file", "a.csv", "b.csv") == [Path("a.csv"), Path("b.csv")]
    assert files("--labels-file", "a.csv", "--labels-file", "b.csv") == [Path("a.csv"), Path("b.csv")]
    assert files("--labels-file", "a.csv", "b.csv", "--labels-file", "c.json") == [
        Path("a.csv"),
        Path("b.csv"),
        Path("c.json"),
    ]
    assert files() == []
