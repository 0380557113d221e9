"""The command line: bad input gets one clear message (problem + fix), exit 2, no traceback, and
nothing written to the store. Runs `python -m labelbudget` in a subprocess, as a user would."""

import subprocess
import sys

import pandas as pd
import pytest
from conftest import synthetic_texts


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "labelbudget", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture
def files(tmp_path):
    good = tmp_path / "good.csv"
    synthetic_texts(200).to_csv(good, index=False)
    multi = tmp_path / "multi.csv"
    pd.DataFrame({"text": [f"t{i}" for i in range(30)], "label": [i % 3 for i in range(30)]}).to_csv(
        multi, index=False
    )
    one_class = tmp_path / "one.csv"
    pd.DataFrame({"text": [f"t{i}" for i in range(30)], "label": [1] * 30}).to_csv(one_class, index=False)
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "a", "label": 1}\n{"text": "b", "lab\n')
    return {"good": good, "multi": multi, "one": one_class, "empty": empty, "broken": broken}


CASES = {
    "missing file": (["--task", "{tmp}/nope.csv"], "does not exist"),
    "wrong column": (["--task", "{good}", "--text-column", "sentence"], "no text column 'sentence'"),
    "non-binary labels": (["--task", "{multi}"], "not binary"),
    "one class": (["--task", "{one}"], "only class 1"),
    "empty": (["--task", "{empty}"], "no examples"),
    "malformed": (["--task", "{broken}"], "could not parse"),
    "budget too small": (
        ["--task", "{good}", "--budget", "2", "--hq-fraction", "0.5"],
        "a stage needs at least 3",
    ),
    "zero cost": (["--weak-cost", "0"], "weak_cost: must be positive"),
    "negative cost": (["--weak-cost", "-0.5"], "weak_cost: must be positive"),
    "negative budget": (["--budget", "-1"], "budget: must be positive"),
    "unknown task": (["--task", "glue-nonsense"], "unknown task 'glue-nonsense'"),
    "unknown model": (
        ["--task", "{good}", "--strong-model", "no-such-org/no-such-model"],
        "unknown model 'no-such-org/no-such-model'",
    ),
    "unknown weak model": (
        ["--task", "{good}", "--weak-model", "nonexistent-weak"],
        "unknown model 'nonexistent-weak'",
    ),
    "unknown method": (["--task", "{good}", "--method", "magic"], "unknown method 'magic'"),
    "pool too small": (
        [
            "--task",
            "{good}",
            "--test-size",
            "40",
            "--budget",
            "100",
            "--hq-fraction",
            "0",
            "--weak-cost",
            "0.01",
        ],
        "the pool of",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_one_clear_error(case, files, tmp_path):
    args, expected = CASES[case]
    args = [a.format(tmp=tmp_path, **files) for a in args]
    results = tmp_path / "results"
    out = cli("run", *args, "--results", results)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines[0].startswith("labelbudget: error: ") and expected in lines[0], out.stderr
    assert len(lines) == 2 and lines[1].strip().startswith("fix: "), out.stderr
    assert not (results / "labelbudget.sqlite").exists()
    assert not (results / "artifacts").exists()


def test_list_names_tasks_methods_and_models():
    out = cli("list")
    assert out.returncode == 0
    for name in ("tweet-sentiment", "seq_sft", "gemma-3-270m", "minilm-l6", "smollm2-135m"):
        assert name in out.stdout
