"""Weak labels from outside labelbudget: a column of the task file, or a predictions file.

    labelbudget run --task tweets.csv --weak-labels column:llm_p1
    labelbudget run --task tweets.csv --weak-labels file:predictions.jsonl

Either holds per row a hard 0/1 label or a probability P(1) in [0, 1], sold soft as the paper
sells weak labels (a hard label is the probability 0 or 1). A predictions file is matched to the
task's rows by an `id` column (when both files have one) or else by exact text (the task's text
column, stripped as the task loader strips it), as the authors' `train_transformer_reporter.py`
read weak labels from any dataset on disk. Rows without a weak label cannot be sold as weak labels:
they are counted and said, and a run that needs more weak labels than there are is refused with
the counts. A file whose duplicates disagree, whose values are not numbers in [0, 1], or that
matches too few of the task's rows is refused with the counts. A run's identity holds the file's
content digest (`runs.identity.inputs`), so an edited file is a new run.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from labelbudget.labels.sources import Fixed, Setup, SourceSpec, WeakInfo, register_source
from labelbudget.tasks.files import MISSING, read_table
from labelbudget.util.errors import UserError, short
from labelbudget.util.hashing import file_digest, stable_hash

MIN_MATCHED = 0.5
"""A predictions file must label at least this share of the pool (else it is another file's)."""

VALUE_COLUMNS = ("p1", "prob", "probability", "weak_label", "label", "prediction")
"""The value column of a predictions file: the first of these it has (or its only other column)."""


def _values(column: pd.Series, where: str) -> np.ndarray:
    """P(1) per row (NaN where empty); refuses anything that is not a number in [0, 1]."""
    text = column.astype(str).str.strip()
    missing = text.str.lower().isin(MISSING)
    values = pd.to_numeric(text.where(~missing), errors="coerce")
    bad = ~missing & (values.isna() | (values < 0) | (values > 1))
    if bad.any():
        examples = ", ".join(short(v, 20) for v in text[bad].head(3))
        raise UserError(
            f"{where} holds {int(bad.sum())} values that are not numbers in [0, 1] (e.g. {examples})",
            "write a hard label 0/1 or a probability P(1) in [0, 1] per row, or leave it empty",
        )
    return values.to_numpy(float)


def _by_text(texts: pd.Series, values: np.ndarray, where: str) -> dict[str, float]:
    """text -> P(1); refuses texts whose rows disagree."""
    frame = pd.DataFrame({"text": texts.astype(str).str.strip(), "value": values}).dropna()
    spread = frame.groupby("text")["value"].agg(["min", "max"])
    clash = spread[spread["max"] - spread["min"] > 1e-9]
    if len(clash):
        raise UserError(
            f"{where} gives {len(clash)} texts two different weak labels (e.g. {short(clash.index[0], 60)})",
            "keep one weak label per text (or per id) and rerun",
        )
    return frame.groupby("text")["value"].first().to_dict()


def _stamp(*paths: Path) -> tuple:
    """A file's path, size and modification time: the key of the readers' cache (a run's checks
    and its sources read the same file; a sweep checks every config before it runs any)."""
    return tuple((str(p), *((p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else ())) for p in paths)


def column_labels(config) -> tuple[dict[str, float], str]:
    """`column:NAME`: the task file's column NAME."""
    name = config.weak_labels.split(":", 1)[1]
    path = Path(config.task.task)
    if not path.is_file():
        raise UserError(
            f"--weak-labels column:{name} needs a task file, but {config.task.task!r} is a named task",
            "pass --task with your CSV/TSV/JSONL file, or --weak-labels file:PREDICTIONS",
        )
    return _column_labels(name, path, config.task.text_column, _stamp(path))


@functools.lru_cache(maxsize=4)
def _column_labels(name: str, path: Path, text_column: str, stamp: tuple) -> tuple[dict[str, float], str]:
    df = read_table(path)
    if name not in df.columns:
        raise UserError(
            f"{path} has no weak-label column {name!r}; its columns are {list(map(str, df.columns))}",
            "pass --weak-labels column:NAME with one of those names",
        )
    where = f"{path}'s column {name!r}"
    return _by_text(df[text_column], _values(df[name], where), where), file_digest(path)


def file_labels(config) -> tuple[dict[str, float], str]:
    """`file:PATH`: a predictions file, matched by id (where both files have `id`) or by text."""
    path = Path(config.weak_labels.split(":", 1)[1])
    if not path.is_file() or path.suffix.lower() not in (".csv", ".tsv", ".jsonl"):
        raise UserError(
            f"weak-label file {path} does not exist or is not .csv, .tsv or .jsonl",
            "pass --weak-labels file:PATH with a CSV/TSV/JSONL of predictions",
        )
    task_path = Path(config.task.task)
    return _file_labels(path, task_path, config.task.text_column, _stamp(path, task_path))


@functools.lru_cache(maxsize=4)
def _file_labels(path: Path, task_path: Path, text_column: str, stamp: tuple) -> tuple[dict[str, float], str]:
    df = read_table(path)
    value = next((c for c in VALUE_COLUMNS if c in df.columns), None)
    others = [c for c in df.columns if c not in ("id", text_column)]
    value = value or (others[0] if len(others) == 1 else None)
    if value is None:
        raise UserError(
            f"{path} has no weak-label column; its columns are {list(map(str, df.columns))}",
            f"name it one of {', '.join(VALUE_COLUMNS)}",
        )
    where = f"{path}'s column {value!r}"
    values = _values(df[value], where)
    if "id" in df.columns and task_path.is_file() and "id" in (task := read_table(task_path)).columns:
        ids = df["id"].astype(str).str.strip()
        if ids.duplicated().any():
            raise UserError(
                f"{path} has {int(ids.duplicated().sum())} repeated ids "
                f"(e.g. {short(ids[ids.duplicated()].iloc[0], 30)})",
                "keep one row per id",
            )
        text_of = dict(zip(task["id"].astype(str).str.strip(), task[text_column], strict=True))
        unknown = ~ids.isin(text_of.keys())
        if unknown.any():
            raise UserError(
                f"{path} has {int(unknown.sum())} ids the task file does not "
                f"(e.g. {short(ids[unknown].iloc[0], 30)})",
                "give predictions for the task file's own ids",
            )
        texts = ids.map(text_of)
    elif text_column in df.columns:
        texts = df[text_column]
    else:
        raise UserError(
            f"{path} has neither an `id` column (matching the task file's) nor the text column "
            f"{text_column!r}",
            "add the task's ids (column `id`) or its texts to the predictions file",
        )
    return _by_text(texts, values, where), file_digest(path)


def matched(config, task, read) -> tuple[np.ndarray, np.ndarray, str]:
    """P(1) per pool and per test text (NaN where the file has none) and the file's digest;
    refuses a file that labels too few of the pool. A run's check and its source both call it."""
    by_text, digest = read(config)
    pool = np.array([by_text.get(t, np.nan) for t in task.pool.texts])
    test = np.array([by_text.get(t, np.nan) for t in task.test.texts])
    labeled = ~np.isnan(pool)
    if labeled.mean() < MIN_MATCHED:
        raise UserError(
            f"--weak-labels {config.weak_labels} labels {int(labeled.sum())} of the pool's {len(pool)} "
            f"texts (at least {MIN_MATCHED:.0%} needed)",
            "check that the file's ids or texts are the task's (texts must match exactly)",
        )
    return pool, test, digest


def build(setup: Setup, read) -> Fixed:
    cfg = setup.config
    pool, test, digest = matched(cfg, setup.task, read)
    labeled = ~np.isnan(pool)
    spec = cfg.weak_labels
    offer = setup.offer[labeled[setup.offer]]
    if len(offer) < setup.limit:
        raise UserError(
            f"--weak-labels {spec} has {len(offer)} weak labels on this run's side of the pool, "
            f"{setup.limit} needed",
            "lower the budget or the weak share, or label more rows",
        )
    notes = [f"weak labels from {spec} (content {digest})"]
    if not labeled.all():
        notes.append(
            f"{int((~labeled).sum())} of {len(pool)} pool texts have no weak label and are never sold"
        )
    source = Fixed("weak", cfg.weak_cost, setup.limit, np.nan_to_num(pool, nan=0.5), offer)
    source.info = WeakInfo(
        test if not np.isnan(test).all() else None, stable_hash([spec, digest]), tuple(notes)
    )
    return source


for _name, _read, _description in (
    ("column:", column_labels, "weak labels from a column of the task file: column:NAME (0/1 or P(1))"),
    ("file:", file_labels, "weak labels from a predictions file matched by id or text: file:PATH"),
):
    register_source(
        SourceSpec(
            _name,
            "weak",
            _description,
            lambda s, r=_read: build(s, r),
            check=lambda config, task, r=_read: matched(config, task, r),  # its result unused
        )
    )
