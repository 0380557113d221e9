"""The practitioner's path, offline, on the embedded tweets with their gold labels hidden.

    python scripts/walkthrough.py WORK_DIR            # Gemma-3-270M probes (minutes on a CPU)
    python scripts/walkthrough.py WORK_DIR --strong-model TINY --quick --sizes 400 400 60   # the test

You have texts, a cheap weak labeler (here a word-list heuristic, written as a column) and a
person who can label; no gold labels. The script prints and runs each `labelbudget` command:

1. `sweep` in simulation on a labeled task like yours (here: other embedded tweets, with gold),
   with the same weak labeler, then `plan` what to buy for $64;
2. `run` that allocation on your unlabeled file: it asks you (twice) for labels, first the test
   set, then the HQ labels it chose, as a CSV and as Label Studio tasks; `person` below plays
   you from the hidden gold (do it by hand, or in Label Studio, in real life);
3. `predict` new texts with the classifier the run saved, and (only because the gold exists
   here) check it.
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

POSITIVE = set("love loved great good awesome happy amazing best excellent nice cool fun thanks".split())  # noqa: SIM905
NEGATIVE = set("hate hated bad awful worst sad terrible horrible boring poor fail sucks".split())  # noqa: SIM905


QUOTED = csv.QUOTE_NONNUMERIC
"""Quote every text, so that a tweet's bare carriage return stays inside its field."""


def heuristic(text: str) -> float:
    """A weak labeler with no training: P(positive) from counts of a few sentiment words."""
    words = text.lower().split()
    score = sum(w.strip(".,!?") in POSITIVE for w in words) - sum(w.strip(".,!?") in NEGATIVE for w in words)
    return float(np.clip(0.5 + 0.2 * score, 0.05, 0.95))


def data(work: Path, n_sim: int, n_mine: int, n_new: int) -> None:
    """Split the embedded tweets: a labeled simulation task, your unlabeled file, new texts, and
    the gold labels kept aside (only `person` and the final check read them)."""
    from labelbudget.config import TaskConfig
    from labelbudget.tasks import load_task

    task = load_task(TaskConfig(test_size=2))
    texts = task.pool.texts + task.test.texts
    labels = np.concatenate([task.pool.labels, task.test.labels])
    order = np.random.default_rng(0).permutation(len(texts))
    table = pd.DataFrame({"text": [texts[i] for i in order], "label": labels[order]})
    table["weak"] = table["text"].map(heuristic)
    sim, mine = table.iloc[:n_sim], table.iloc[n_sim : n_sim + n_mine]
    new = table.iloc[n_sim + n_mine : n_sim + n_mine + n_new]
    work.mkdir(parents=True, exist_ok=True)
    sim.to_csv(work / "similar_labeled.csv", index=False, quoting=QUOTED)
    mine[["text", "weak"]].to_csv(work / "mine.csv", index=False, quoting=QUOTED)
    new[["text"]].to_csv(work / "new.csv", index=False, quoting=QUOTED)
    pd.concat([mine, new])[["text", "label"]].to_csv(work / "hidden_gold.csv", index=False, quoting=QUOTED)


def person(gold_csv: Path, request: Path, out: Path) -> None:
    """Play the person: fill the request's empty labels from the hidden gold."""
    gold = dict(pd.read_csv(gold_csv, keep_default_na=False)[["text", "label"]].itertuples(index=False))
    table = pd.read_csv(request, dtype=str, keep_default_na=False)
    table["label"] = [v if v else str(gold[t]) for t, v in zip(table["text"], table["label"], strict=True)]
    table.to_csv(out, index=False, quoting=QUOTED)


def labelbudget(*args: str, expect: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    print("$ labelbudget " + shlex.join(args), flush=True)
    done = subprocess.run([sys.executable, "-m", "labelbudget", *args], capture_output=True, text=True)
    print(done.stdout + done.stderr, flush=True)
    if done.returncode not in expect:
        raise SystemExit(f"labelbudget exited with {done.returncode}")
    return done


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("work", type=Path)
    parser.add_argument("--strong-model", default="gemma-3-270m")
    parser.add_argument("--quick", action="store_true", help="short training and a test set of 40 (tests)")
    parser.add_argument(
        "--sizes", nargs=3, type=int, default=(3000, 3000, 500), metavar=("SIM", "MINE", "NEW")
    )
    args = parser.parse_args()
    work = args.work
    test_size = "40" if args.quick else "200"
    data(work, *args.sizes)
    method = ["--method", "probe_seq_sft", "--strong-model", args.strong_model]
    method += ["--example-visits", "64"] if args.quick else []

    # 1. Simulate on a labeled task like yours, with your weak labeler, and plan.
    sim = str(work / "simulation")
    labelbudget(
        "sweep", "--tasks", str(work / "similar_labeled.csv"), "--weak-labels", "column:weak",
        *method, "--test-size", test_size, "--budgets", "16", "64", "--weak-costs", "0.1",
        "--hq-fractions", "0", "0.25", "0.5", "1", "--seeds", "0", "1", "2", "--skip-unsupplied",
        "--results", sim,
    )  # fmt: skip
    planned = labelbudget("plan", "--budget", "64", "--weak-cost", "0.1", "--results", sim, "--json")
    flags = json.loads(planned.stdout)["run_flags"].split()

    # 2. Run that allocation on your own file: no gold, a person labels what the run asks for.
    real = str(work / "results")
    run = [
        "run", "--task", str(work / "mine.csv"), "--unlabeled", "--weak-labels", "column:weak",
        "--oracle", "file", "--test-size", test_size, *method, *flags, "--seed", "0", "--results", real,
    ]  # fmt: skip
    given: list[str] = []
    for _ in range(3):  # the test set, then the HQ labels (few-shot prompted SFT may ask once more)
        done = labelbudget(*run, *given, "--save-model", str(work / "model"), expect=(0, 3))
        if done.returncode == 0:
            break
        request = Path(done.stderr.split("--labels-file ")[-1].split()[0])
        answered = request.with_name("labeled.csv")
        person(work / "hidden_gold.csv", request, answered)
        if str(answered) not in given:
            given += ["--labels-file", str(answered)]
    else:
        raise SystemExit("the run kept asking for labels")

    # 3. Use the classifier you paid for.
    labelbudget("predict", "--model", str(work / "model"), "--input", str(work / "new.csv"))
    scored = pd.read_csv(work / "new.predictions.csv", keep_default_na=False)
    gold = dict(pd.read_csv(work / "hidden_gold.csv", keep_default_na=False).itertuples(index=False))
    accuracy = float(
        np.mean([gold[t] == p for t, p in zip(scored["text"], scored["label_pred"], strict=True)])
    )
    weak = float(np.mean([gold[t] == (heuristic(t) > 0.5) for t in scored["text"]]))
    print(f"on {len(scored)} new texts: the classifier {accuracy:.3f}, the weak heuristic {weak:.3f}")


if __name__ == "__main__":
    main()
