"""Several label sources in one budget (issue 38): three sources at their prices in one run (a
stage per source, counts and prices in the record, the spend within budget), the same allocation
at other prices the same run, a sweep over the simplex and the adaptive sweep over it, `plan`
naming counts per source, `report --json` with the allocation per source."""

from __future__ import annotations

import json
import re
import shlex

import numpy as np
import pandas as pd
import pytest
from conftest import synthetic_texts

from labelbudget.__main__ import main
from labelbudget.allocation import allocation_of
from labelbudget.config import RunConfig
from labelbudget.runs.store import Store
from labelbudget.util.errors import UserError

SOURCES = ("llm=column:llm@0.01", "crowd=column:crowd@0.1", "expert=ground-truth@1")


@pytest.fixture(scope="module")
def three_csv(tmp_path_factory):
    """Texts with gold labels, an LLM's noisy labels (70% right) and a crowd's better ones (85%)."""
    rng = np.random.default_rng(0)
    df = synthetic_texts(1000)
    df["llm"] = np.where(rng.random(len(df)) < 0.7, df["label"], 1 - df["label"])
    df["crowd"] = np.where(rng.random(len(df)) < 0.85, df["label"], 1 - df["label"])
    path = tmp_path_factory.mktemp("three") / "three.csv"
    df.to_csv(path, index=False)
    return path


def as_flags(sources) -> list[str]:
    """`--source` once per source, as a user types them."""
    return [w for s in sources for w in ("--source", s)]


def tiny_flags(tiny_decoder, tiny_encoder, csv) -> list[str]:
    return [
        "--task", str(csv), "--test-size", "40", "--strong-model", tiny_decoder, "--weak-model", tiny_encoder,
        "--example-visits", "64", "--batch-size", "8", "--eval-batch-size", "32", "--learner", "probe",
    ]  # fmt: skip


def test_a_run_buys_from_three_sources_a_stage_each(three_csv, tiny_decoder, tiny_encoder, tmp_path, capsys):
    flags = tiny_flags(tiny_decoder, tiny_encoder, three_csv)
    argv = ["run", *flags, *as_flags(SOURCES), "--shares", "llm=0.3", "crowd=0.3", "expert=0.4"]
    assert main([*argv, "--budget", "16", "--results", str(tmp_path), "--json"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # expert int(0.4 x 16) = 6, crowd int(0.3 x 16 / 0.1) = 48, the llm the rest: (16 - 6 - 4.8) / 0.01
    assert record["counts"] == {"llm": 520, "crowd": 48, "expert": 6}
    assert record["prices"] == {"llm": 0.01, "crowd": 0.1, "expert": 1.0}
    assert record["spent"] == pytest.approx(5.2 + 4.8 + 6) and record["spent"] <= 16
    assert [s["name"] for s in record["stages"]] == ["llm", "crowd", "expert"]
    assert [s["n_train"] + s["n_val"] for s in record["stages"]] == [520, 48, 6]
    assert (record["n_weak"], record["n_hq"]) == (568, 6)
    # judged against the best labels it learned from: the crowd's (85% right), not the llm's (70%)
    quality = record["source_accuracy"]
    assert set(quality) == {"llm", "crowd"} and quality["crowd"] > quality["llm"] == record["weak_accuracy"]
    from labelbudget.runs.record import weak_to_strong
    from labelbudget.runs.store import Store

    (stored,) = Store(tmp_path).records()
    assert f"its crowd labels: {stored.accuracy:.3f} against {quality['crowd']:.3f}" in weak_to_strong(stored)
    # the same allocation at other prices is the same run, not run again
    dearer = ["llm=column:llm@0.02", "crowd=column:crowd@0.2", "expert=ground-truth@2"]
    argv = ["run", *flags, *as_flags(dearer), "--shares", "llm=0.325", "crowd=0.3", "expert=0.375"]
    assert main([*argv, "--budget", "32", "--results", str(tmp_path)]) == 0
    assert "already stored" in capsys.readouterr().out


def test_a_source_nobody_buys_is_no_stage(three_csv, tiny_decoder, tiny_encoder, tmp_path, capsys):
    flags = tiny_flags(tiny_decoder, tiny_encoder, three_csv)
    argv = ["run", *flags, *as_flags(SOURCES), "--shares", "llm=0.5", "crowd=0", "expert=0.5", "--json"]
    assert main([*argv, "--budget", "16", "--results", str(tmp_path)]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["counts"]["crowd"] == 0 and [s["name"] for s in record["stages"]] == ["llm", "expert"]


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (["--shares", "llm=0.5", "expert=0.5"], "--shares names ['expert', 'llm'] but the sources are"),
        (["--shares", "llm=0.5", "crowd=0.3", "expert=0.4"], "--shares sum to 1.2, not 1"),
        (
            ["--shares", "llm=0.3", "crowd=0.3", "expert=0.4", "--weak-cost", "0.2"],
            "--weak-cost set the paper's",
        ),
        (["--shares", "llm=0.3", "crowd=0.3", "expert=0.4", "--hq-fraction", "0.1"], "--hq-fraction set"),
    ],
)
def test_sources_and_shares_that_do_not_fit_are_refused(extra, problem, tmp_path, capsys):
    assert main(["run", *as_flags(SOURCES), *extra, "--results", str(tmp_path)]) == 2
    assert problem in capsys.readouterr().err
    assert not (tmp_path / "labelbudget.sqlite").exists()


def test_a_source_spelled_wrong_is_refused():
    for text in ("llm=column:llm", "=ground-truth@1", "llm=column:llm@free", "llm=column:llm@-1"):
        with pytest.raises(UserError, match="--source"):
            RunConfig(sources=(text,), shares=("llm=1",))


def test_the_paper_pair_spelled_as_sources_buys_the_papers_allocation():
    pair = RunConfig(
        sources=("weak=trained@0.1", "hq=ground-truth@1"), shares=("weak=0.5", "hq=0.5"), budget=64
    )
    assert allocation_of(pair).values == allocation_of(RunConfig(budget=64)).values == (320, 32)


def test_a_sweep_and_the_adaptive_sweep_over_the_simplex_then_plan_and_report(
    three_csv, tiny_decoder, tiny_encoder, tmp_path, capsys
):
    flags = tiny_flags(tiny_decoder, tiny_encoder, three_csv)
    results = str(tmp_path / "r")
    sweep = ["sweep", *flags, *as_flags(SOURCES), "--methods", "seq_sft", "--budgets", "8", "16"]
    assert main([*sweep, "--seeds", "0", "1", "--dry-run", "--results", results]) == 0
    listed = capsys.readouterr().out
    # 2 budgets x 10 points of the simplex x 2 seeds, less the 5 points at $8 that buy 1 or 2
    # expert labels (too few to train on): 30 runs
    assert listed.splitlines()[-1].startswith("30 runs")
    assert (
        main([*sweep, "--seeds", "0", "1", "2", "--adaptive", "--max-runs", "24", "--results", results]) == 0
    )
    out = capsys.readouterr().out
    assert "adaptive round" in out and "budget lines settled" in out
    assert main(["plan", "--budget", "12", "--results", results, "--extrapolate"]) == 0
    said = capsys.readouterr().out
    assert " llm + " in said and " expert labels" in said and "--source" in said
    command = next(line for line in said.splitlines() if "to run it:" in line).split("to run it: ")[1]
    assert "--shares" in command and "--method seq_sft" not in command  # seq_sft is the default
    # the command runs as printed and buys what the plan said
    words = shlex.split(command)
    assert words[:2] == ["labelbudget", "run"]
    assert main(words[1:]) == 0
    ran = capsys.readouterr().out
    bought = next(line for line in said.splitlines() if " expert labels" in line)
    llm, crowd, expert = re.search(r"(\d+) llm \+ (\d+) crowd \+ (\d+) expert labels", bought).groups()
    # what the run says it bought is what the plan said, source by source
    assert f"{llm} llm labels at $0.01 + {crowd} crowd labels at $0.1 + {expert} expert labels at $1" in ran
    counts = [r.counts for r in Store(results).records()]
    assert {"llm": int(llm), "crowd": int(crowd), "expert": int(expert)} in counts
    assert main(["report", "--results", results, "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows and all(set(r["counts"]) == {"llm", "crowd", "expert"} for r in rows)
    assert all("probabilities" in r and r["weak_cost"] is None for r in rows)
    df = pd.DataFrame(rows)
    assert set(df["budget"]) <= {8.0, 16.0}


def test_a_record_read_back_with_sorted_keys_keeps_its_stage_order():
    """A record kept aside as JSON with sorted keys (the store could not be written) holds its
    counts alphabetically; read back, they are in stage order, as the analysis places runs."""
    import dataclasses

    from conftest import make_record

    from labelbudget.runs.record import Record, counts_of, prices_of_record

    r = make_record(sources=SOURCES, shares=("llm=0.5", "crowd=0.25", "expert=0.25"))
    r = dataclasses.replace(
        r, counts={"llm": 1600, "crowd": 160, "expert": 16}, prices={"llm": 0.01, "crowd": 0.1, "expert": 1.0}
    )
    back = Record(**json.loads(r.to_json()))
    assert list(back.counts) == ["crowd", "expert", "llm"]  # as JSON with sorted keys holds them
    assert list(counts_of(back)) == list(prices_of_record(back)) == ["llm", "crowd", "expert"]
