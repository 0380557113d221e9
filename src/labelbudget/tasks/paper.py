"""The paper's nine tasks, loaded by name with Hugging Face `datasets` (PROTOCOL, "Data").

Each task is a dataset id, the splits to read, and a formatter that turns one record of that
dataset's own schema into (text, label) with the paper's template. Multiple-choice tasks are
binarized with a seeded RNG: with probability 0.5 the gold answer is shown (label 1), otherwise a
random distractor (label 0); `prepare` then balances every split 50/50 by undersampling.

Offline, point `--data-dir` at a local copy: a folder written by `DatasetDict.save_to_disk`, or
a clone of the dataset's hub repository.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labelbudget.config import TaskConfig
from labelbudget.tasks.prepare import Labeled
from labelbudget.tasks.registry import register_task
from labelbudget.util.errors import UserError

Formatter = Callable[[dict[str, Any], np.random.Generator], tuple[str, int]]


def binarize(choices: list[str], gold: int, rng: np.random.Generator) -> tuple[str, int]:
    """The gold answer with probability 0.5 (label 1), else a uniformly random distractor (0)."""
    if rng.random() < 0.5:
        return choices[gold], 1
    distractors = [c for i, c in enumerate(choices) if i != gold]
    return distractors[int(rng.integers(len(distractors)))], 0


def boolq(r, rng):
    return f"Passage: {r['passage']}\nQuestion: {r['question']}", int(r["answer"])


def hellaswag(r, rng):
    ending, label = binarize(r["endings"], int(r["label"]), rng)
    endings = "\n".join(r["endings"])
    text = f'Context:\n{r["ctx"]}\n\nContinuations:\n\n{endings}\n\nQ: Is "{ending}" the best continuation?'
    return text, label


def sciq(r, rng):
    choices = [r["correct_answer"], r["distractor1"], r["distractor2"], r["distractor3"]]
    answer, label = binarize(choices, 0, rng)
    return f"Q: {r['question']} A: {answer}", label


def cola(r, rng):
    return r["sentence"], int(r["label"])


NONE_OF_THE_ABOVE = "None of the above choices ."


def cosmos_qa(r, rng):
    """Where the gold answer is "None of the above choices ." the label is always 0 and a
    distractor is shown (the authors' `format_cosmosqa` in `w2s/ds_registry.py`)."""
    choices = [r[f"answer{i}"] for i in range(4)]
    gold = int(r["label"])
    if NONE_OF_THE_ABOVE in choices[gold]:
        others = [c for i, c in enumerate(choices) if i != gold]
        return _cosmos_text(r, others[int(rng.integers(len(others)))]), 0
    answer, label = binarize(choices, gold, rng)
    return _cosmos_text(r, answer), label


def _cosmos_text(r, answer: str) -> str:
    return f"Context: {r['context']}\nQuestion: {r['question']}\nAnswer: {answer}"


def quail(r, rng):
    answer, label = binarize(list(r["answers"]), int(r["correct_answer_id"]), rng)
    return f'Passage:\n\n{r["context"]}\n\nQ: "{r["question"]}" Is the answer "{answer}"?', label


def social_i_qa(r, rng):
    choices = [r["answerA"], r["answerB"], r["answerC"]]
    answer, label = binarize(choices, int(r["label"]) - 1, rng)  # labels are "1".."3"
    listed = "\n".join(choices)
    text = (
        f'Context:\n{r["context"]}\n\nQuestion: "{r["question"]}"\n\nChoices:\n{listed}\n\n'
        f'Is the answer "{answer}"?'
    )
    return text, label


def mmlu(r, rng):
    answer, label = binarize(list(r["choices"]), int(r["answer"]), rng)
    choices = "\n".join(r["choices"])
    return f"{r['question']}\n\n{choices}\n\nA: {answer}.", label


def amazon_polarity(r, rng):
    return f"{r['title']} {r['content']}", int(r["label"])


TABLE1_TASKS = ("hellaswag", "social_i_qa", "cosmos_qa")
"""Table 1 and Figure 5 average these three (PROTOCOL, "The paper's numbers")."""


@dataclass(frozen=True)
class HubTask:
    name: str
    path: str
    """Hugging Face dataset id."""
    config: str | None
    train_splits: tuple[str, ...]
    test_split: str | None
    """The source's labeled held-out split; None: hold the test set out of the pooled splits."""
    format: Formatter
    description: str


HUB_TASKS = [
    HubTask("boolq", "google/boolq", None, ("train",), "validation", boolq, "yes/no questions"),
    HubTask(
        "hellaswag",
        "Rowan/hellaswag",
        None,
        ("train",),
        "validation",
        hellaswag,
        "is this the best continuation (binarized 4-way)",
    ),
    HubTask(
        "sciq",
        "allenai/sciq",
        None,
        ("train", "validation", "test"),
        None,
        sciq,
        "science QA (binarized 4-way; all splits pooled, test held out)",
    ),
    HubTask("cola", "nyu-mll/glue", "cola", ("train",), "validation", cola, "grammatical acceptability"),
    HubTask(
        "cosmos_qa",
        "allenai/cosmos_qa",
        None,
        ("train",),
        "validation",
        cosmos_qa,
        "commonsense reading comprehension (binarized 4-way)",
    ),
    HubTask(
        "quail",
        "textmachinelab/quail",
        None,
        ("train",),
        "validation",
        quail,
        "reading comprehension (binarized 4-way)",
    ),
    HubTask(
        "social_i_qa",
        "allenai/social_i_qa",
        None,
        ("train",),
        "validation",
        social_i_qa,
        "social commonsense (binarized 3-way)",
    ),
    HubTask(
        "mmlu",
        "cais/mmlu",
        "all",
        ("auxiliary_train", "dev", "validation"),
        "test",
        mmlu,
        "57-subject multiple choice (binarized 4-way)",
    ),
    HubTask(
        "amazon_polarity",
        "fancyzhx/amazon_polarity",
        None,
        ("train",),
        "test",
        amazon_polarity,
        "review sentiment",
    ),
]


def read_splits(task: HubTask, cfg: TaskConfig) -> dict[str, Iterable[dict]]:
    """The task's splits from `--data-dir` (a local copy) or the hub, with an actionable error."""
    try:
        import datasets
    except ImportError as e:
        raise UserError(
            f"task {task.name!r} needs the `datasets` package", "pip install 'labelbudget[hub]'"
        ) from e
    local = Path(cfg.data_dir) if cfg.data_dir else None
    try:
        if local is not None and (local / "dataset_dict.json").exists():
            data = datasets.load_from_disk(str(local))
        else:
            data = datasets.load_dataset(str(local) if local else task.path, task.config)
    except Exception as e:  # datasets raises many types for "not reachable / not found"
        where = f"local copy {local}" if local else f"{task.path} from the Hugging Face hub"
        raise UserError(
            f"cannot load task {task.name!r}: {where} is unavailable ({type(e).__name__}: "
            f"{str(e).splitlines()[0][:160] if str(e) else 'no detail'})",
            f"online, `datasets.load_dataset({task.path!r}{', ' + repr(task.config) if task.config else ''})"
            ".save_to_disk(DIR)` once, then pass --data-dir DIR (or a clone of the hub repository)",
        ) from e
    wanted = (*task.train_splits, *((task.test_split,) if task.test_split else ()))
    missing = [s for s in wanted if s not in data]
    if missing:
        raise UserError(
            f"the copy of {task.name!r} lacks split(s) {missing}; it has {list(data)}",
            f"save every split of {task.path} (DatasetDict.save_to_disk)",
        )
    return {s: data[s] for s in wanted}


def to_labeled(records: Iterable[dict], fmt: Formatter, rng: np.random.Generator) -> Labeled:
    texts, labels = [], []
    for record in records:
        text, label = fmt(record, rng)
        if label in (0, 1):  # unlabeled rows (e.g. label -1 in GLUE test splits) are dropped
            texts.append(text)
            labels.append(label)
    return Labeled(texts, np.array(labels, dtype=np.int64))


def loader(task: HubTask) -> Callable[[TaskConfig], tuple[Labeled, Labeled | None, tuple[str, ...]]]:
    def load(cfg: TaskConfig):
        splits = read_splits(task, cfg)
        rng = np.random.default_rng([cfg.data_seed, 2])  # the binarization draws
        train = [to_labeled(splits[s], task.format, rng) for s in task.train_splits]
        pooled = Labeled(
            [t for part in train for t in part.texts], np.concatenate([part.labels for part in train])
        )
        test = to_labeled(splits[task.test_split], task.format, rng) if task.test_split else None
        return pooled, test, (f"{task.name}: {task.path} splits {', '.join(splits)}",)

    return load


for _task in HUB_TASKS:
    register_task(
        _task.name, f"paper: {_task.description} ({_task.path}; needs the hub or --data-dir)", loader(_task)
    )
