"""The practitioner's path, offline, on the embedded tweets with their gold labels hidden.

    python scripts/walkthrough.py WORK_DIR            # Gemma-3-270M probes, MiniLM labeler (minutes)
    python scripts/walkthrough.py WORK_DIR --weak-model TINY --strong-model TINY --quick   # the test
    python scripts/walkthrough.py WORK_DIR --three   # three classes, three priced label sources

With `--three` the file has three classes (negative, neutral, positive tweets, written as class
names) and the budget is split among three sources: your own keyword rules (a column of class
names, $0.01 a label), the MiniLM labeler (its probability per class, $0.10) and a person ($1;
gold in the simulation).

You have texts and a person who can label them; no gold labels. The script prints and runs each
`labelbudget` command:

0. a weak labeler: a small model (MiniLM) trained on a labeled task like yours (here: other
   embedded tweets, with gold), saved (`run --save-model`), and written as a column of P(1) into
   your file and the simulation's by `predict` (any column of your own works the same way:
   an LLM's, a heuristic's, a crowd's);
1. `sweep` in simulation on a labeled task like yours with that weak labeler, then `plan`
   what to buy for $64;
2. `run` that allocation on your unlabeled file: it asks you (twice) for labels, first the test
   set, then the HQ labels it chose, as a CSV and as Label Studio tasks; `person` below plays
   you from the hidden gold (do it by hand, or in Label Studio, in real life);
3. `predict` new texts with the classifier the run saved, and (only because the gold exists
   here) check it against the weak labeler.
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

QUOTED = csv.QUOTE_NONNUMERIC
"""Quote every text, so that a tweet's bare carriage return stays inside its field."""


def data(work: Path, n_labeler: int, n_sim: int, n_mine: int, n_new: int, task_name: str) -> None:
    """Split the embedded tweets: labeled texts for the weak labeler and for the simulation, your
    unlabeled file, new texts, and the gold labels kept aside (only `person` and the final check
    read them). Two classes are written as 0/1, more as their names."""
    from labelbudget.config import TaskConfig
    from labelbudget.tasks import load_task

    task = load_task(TaskConfig(task=task_name, test_size=6))
    texts = task.pool.texts + task.test.texts
    labels = np.concatenate([task.pool.labels, task.test.labels])
    order = np.random.default_rng(0).permutation(len(texts))
    names = np.asarray(task.space.names if task.space.k > 2 else (0, 1), dtype=object)
    table = pd.DataFrame({"text": [texts[i] for i in order], "label": names[labels[order]]})
    ends = np.cumsum([n_labeler, n_sim, n_mine, n_new])
    labeler, sim, mine, new = (table.iloc[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True))
    work.mkdir(parents=True, exist_ok=True)
    labeler.to_csv(work / "labeler_train.csv", index=False, quoting=QUOTED)
    sim.to_csv(work / "similar_labeled.csv", index=False, quoting=QUOTED)
    mine[["text"]].to_csv(work / "mine.csv", index=False, quoting=QUOTED)
    new[["text"]].to_csv(work / "new.csv", index=False, quoting=QUOTED)
    pd.concat([mine, new])[["text", "label"]].to_csv(work / "hidden_gold.csv", index=False, quoting=QUOTED)


POSITIVE = ("love", "great", "happy", "good", "awesome", "thanks", "best", "nice", "fun", ":)")
NEGATIVE = ("hate", "sad", "bad", "miss", "sorry", "sick", "worst", "tired", "ugh", ":(")


def keyword(text: str) -> str:
    """Your own labeling rules: a few words per class, neutral otherwise (cheap, and rough)."""
    words = text.lower()
    pos, neg = sum(w in words for w in POSITIVE), sum(w in words for w in NEGATIVE)
    return "positive" if pos > neg else "negative" if neg > pos else "neutral"


def person(gold_csv: Path, request: Path, out: Path) -> None:
    """Play the person: fill the request's empty labels from the hidden gold. A text that starts
    like a spreadsheet formula (a tweet's @name) is written behind a `'`, which a spreadsheet
    does not show: the person reads the text without it."""
    gold = dict(pd.read_csv(gold_csv, keep_default_na=False)[["text", "label"]].itertuples(index=False))
    table = pd.read_csv(request, dtype=str, keep_default_na=False)
    shown = [t if t in gold else t.removeprefix("'") for t in table["text"]]
    table["label"] = [v if v else str(gold[t]) for t, v in zip(shown, table["label"], strict=True)]
    table.to_csv(out, index=False, quoting=QUOTED)


def labelbudget(*args: str, expect: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    print("$ labelbudget " + shlex.join(args), flush=True)
    done = subprocess.run([sys.executable, "-m", "labelbudget", *args], capture_output=True, text=True)
    print(done.stdout + done.stderr, flush=True)
    if done.returncode not in expect:
        raise SystemExit(f"labelbudget exited with {done.returncode}")
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("work", type=Path)
    parser.add_argument("--weak-model", default="minilm-l6")
    parser.add_argument("--strong-model", default="gemma-3-270m")
    parser.add_argument("--quick", action="store_true", help="short training and small sets (tests)")
    parser.add_argument("--three", action="store_true", help="three classes and three priced sources")
    args = parser.parse_args()
    work = args.work
    sizes = (500, 600, 700, 60) if args.quick else (1500, 3000, 3000, 500)
    test_size = ("42" if args.three else "40") if args.quick else "201" if args.three else "200"
    quick = ["--example-visits", "64"] if args.quick else []
    data(work, *sizes, "tweet-sentiment-3" if args.three else "tweet-sentiment")

    # 0. A weak labeler: a small model trained on a labeled task like yours, written as a column.
    labelbudget(
        "run", "--task", str(work / "labeler_train.csv"), "--strong-model", args.weak_model,
        "--method", "probe_seq_sft", "--budget", "200" if args.quick else "600", "--hq-fraction", "1",
        "--test-size", test_size, *quick, "--results", str(work / "labeler"), "--save-model",
        str(work / "weak_labeler"),
    )  # fmt: skip
    for name in ("similar_labeled", "mine"):
        out = str(work / f"{name}_weak.csv")
        labelbudget(
            "predict",
            "--model",
            str(work / "weak_labeler"),
            "--input",
            str(work / f"{name}.csv"),
            "--output",
            out,
        )
    method = ["--method", "probe_seq_sft", "--strong-model", args.strong_model, *quick]
    sim = str(work / "simulation")
    real = str(work / "results")
    if args.three:
        # your own rules are a third source: a column of class names in both files
        for name in ("similar_labeled", "mine"):
            path = work / f"{name}_weak.csv"
            table = pd.read_csv(path, keep_default_na=False)
            table["keyword"] = [keyword(t) for t in table["text"]]
            table.to_csv(path, index=False, quoting=QUOTED)
        sources = ["keyword=column:keyword@0.01", "minilm=column:p_*@0.1", "expert=ground-truth@1"]
        weak = [w for source in sources for w in ("--source", source)]
        pair: list[str] = []
        classes = [
            "--classes",
            "negative",
            "neutral",
            "positive",
        ]  # your file has no labels to read them from
    else:
        weak, pair, classes = (
            ["--weak-labels", "column:p1"],
            ["--weak-costs", "0.1", "--hq-fractions", "0", "0.25", "0.5", "1"],
            [],
        )

    # 1. Simulate on a labeled task like yours, with your weak labeler(s), and plan.
    labelbudget(
        "sweep", "--tasks", str(work / "similar_labeled_weak.csv"), *weak, *method, "--test-size", test_size,
        "--budgets", "16", "64", *pair, "--seeds", "0", "1", "2", "--skip-unsupplied", "--results", sim,
    )  # fmt: skip
    cost = [] if args.three else ["--weak-cost", "0.1"]
    planned = labelbudget("plan", "--budget", "64", *cost, "--results", sim, "--json")
    flags = json.loads(planned.stdout)["run_flags"].split()
    if args.three:  # in your own run the expert is a person, not the simulation's gold
        flags = [f.replace("=ground-truth@", "=file@") for f in flags]
        oracle = []
    else:
        oracle = [*weak, "--oracle", "file"]

    # 2. Run that allocation on your own file: no gold, a person labels what the run asks for.
    run = [
        "run", "--task", str(work / "mine_weak.csv"), "--unlabeled", *classes, *oracle,
        "--test-size", test_size, *method, *flags, "--seed", "0", "--results", real,
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

    # 3. Use the classifier you paid for (and, since the gold exists here, check it).
    labelbudget("predict", "--model", str(work / "model"), "--input", str(work / "new.csv"))
    labelbudget(
        "predict",
        "--model",
        str(work / "weak_labeler"),
        "--input",
        str(work / "new.csv"),
        "--output",
        str(work / "new_weak.csv"),
    )
    gold = dict(pd.read_csv(work / "hidden_gold.csv", keep_default_na=False).itertuples(index=False))
    for who, path in (("the classifier", "new.predictions.csv"), ("the weak labeler", "new_weak.csv")):
        scored = pd.read_csv(work / path, keep_default_na=False)
        pairs = zip(scored["text"], scored["label_pred"], strict=True)
        accuracy = float(np.mean([str(gold[t]) == str(p) for t, p in pairs]))
        print(f"on {len(scored)} new texts: {who} {accuracy:.3f} accurate", flush=True)


if __name__ == "__main__":
    main()
