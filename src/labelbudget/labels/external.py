"""Weak labels from outside labelbudget: a column of the task file, or a predictions file.

    labelbudget run --task tweets.csv --weak-labels column:llm_p1
    labelbudget run --task topics.csv --weak-labels column:llm_label        # class names or ids
    labelbudget run --task topics.csv --weak-labels 'column:p_*'            # p_<class> per class
    labelbudget run --task tweets.csv --weak-labels file:predictions.jsonl

Per row a label in the task's label space, sold soft as the paper sells weak labels (a hard label
is one-hot): a class name or id; one probability column per class, `p_<class>` (the class's name
or id; rows are normalised); or, with two classes, the paper's P(1) in [0, 1] (0/1 a hard label).
A predictions file's value column is the first of `VALUE_COLUMNS` it has (or its only other
column), unless it has `p_<class>` columns. It is matched to the task's rows by an `id` column
(when both files have one) or else by exact text (the task's text column, stripped as the task
loader strips it), as the authors' `train_transformer_reporter.py` read weak labels from any
dataset on disk. Rows without a weak label cannot be sold as weak labels: they are counted and
said, and a run that needs more weak labels than there are is refused with the counts. A file
whose duplicates disagree, whose values are not labels of the task, or that matches too few of
the task's rows is refused with the counts. A run's identity holds the file's content digest
(`runs.identity.inputs`), so an edited file is a new run.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from labelbudget.labels.sources import Fixed, Setup, SourceSpec, WeakInfo, register_source
from labelbudget.labelspace import LabelSpace, from_p1
from labelbudget.tasks.files import MISSING, read_table
from labelbudget.util.errors import UserError, short
from labelbudget.util.hashing import file_digest, stable_hash

MIN_MATCHED = 0.5
"""A predictions file must label at least this share of the pool (else it is another file's)."""

VALUE_COLUMNS = ("p1", "prob", "probability", "weak_label", "label", "prediction")
"""The value column of a predictions file: the first of these it has (or its only other column)."""


PROBABILITY_COLUMNS = "p_*"
"""`column:p_*`: one probability column per class, `p_<class name or id>`."""


def _cells(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """The value columns as stripped strings, empty cells None."""
    text = frame.astype(str).apply(lambda c: c.str.strip())
    return text.where(~text.apply(lambda c: c.str.lower().isin(MISSING)), None)


def _by_text(texts: pd.Series, cells: pd.DataFrame, where: str) -> dict[str, tuple]:
    """text -> its row of raw values (every value empty: no label); refuses texts whose rows
    disagree."""
    frame = cells.assign(_text=texts.astype(str).str.strip().to_numpy())
    frame = frame[frame.drop(columns="_text").notna().any(axis=1)]
    rows = frame.groupby("_text").agg(lambda c: tuple(sorted(set(c.dropna()))))
    clash = rows[rows.apply(lambda r: any(len(v) > 1 for v in r), axis=1)]
    if len(clash):
        raise UserError(
            f"{where} gives {len(clash)} texts two different weak labels (e.g. {short(clash.index[0], 60)})",
            "keep one weak label per text (or per id) and rerun",
        )
    return {t: tuple(v[0] if v else None for v in row) for t, row in rows.iterrows()} | {
        "\0columns": tuple(cells.columns)
    }


def probabilities(by_text: dict[str, tuple], texts: list[str], space: LabelSpace, where: str) -> np.ndarray:
    """(n, K) class probabilities of these texts (NaN rows where there is no label) from the raw
    values (`_by_text`): `p_<class>` columns, or one column of class names or ids (with two
    classes also P(1) in [0, 1], the paper's weak labels)."""
    columns = by_text["\0columns"]
    raw = [by_text.get(t) if not t.startswith("\0") else None for t in texts]
    known = np.array([r is not None for r in raw])
    out = np.full((len(texts), space.k), np.nan)
    if not known.any():
        return out
    rows = [r for r in raw if r is not None]
    if len(columns) > 1 or by_text.get("\0per_class"):  # p_<class> columns: one per class
        picked = [_column_of(columns, space, c, where) for c in range(space.k)]
        values = pd.DataFrame([[r[i] for i in picked] for r in rows]).apply(pd.to_numeric, errors="coerce")
        bad = values.isna().any(axis=1) | (values < 0).any(axis=1) | (values.sum(axis=1) <= 0)
        if bad.any():
            raise UserError(
                f"{where} holds {int(bad.sum())} rows whose p_<class> values are not non-negative numbers "
                f"with a positive sum (e.g. {list(rows[int(np.flatnonzero(bad.to_numpy())[0])])})",
                "write a probability per class in every p_<class> column, or leave the whole row empty",
            )
        out[known] = values.to_numpy(float) / values.to_numpy(float).sum(axis=1, keepdims=True)
        return out
    cells = pd.Series([r[0] for r in rows], dtype=str)
    numbers = pd.to_numeric(cells, errors="coerce")
    if space.k == 2 and numbers.notna().all() and ((numbers >= 0) & (numbers <= 1)).all():
        out[known] = from_p1(numbers.to_numpy(float), np.float64)
        return out
    ids = cells.map(space.lookup)
    if ids.isna().any():
        examples = ", ".join(short(v, 20) for v in cells[ids.isna()].unique()[:3])
        expected = f"a class of {list(space.names)} (or its id)" + (
            ", or P(1) in [0, 1]" if space.k == 2 else ""
        )
        raise UserError(
            f"{where} holds {int(ids.isna().sum())} values that are not {expected} (e.g. {examples})",
            "write one label per row (or leave it empty), or one p_<class> column per class",
        )
    out[known] = space.one_hot(ids.to_numpy(np.int64))
    return out


def _column_of(columns: tuple, space: LabelSpace, c: int, where: str) -> int:
    for name in (f"p_{space.names[c]}", f"p_{c}"):
        if name in columns:
            return columns.index(name)
    raise UserError(
        f"{where} has no probability column for class {space.names[c]!r} (its columns are {list(columns)})",
        f"name one column p_<class> per class: {', '.join('p_' + n for n in space.names)}",
    )


def _stamp(*paths: Path) -> tuple:
    """A file's path, size and modification time: the key of the readers' cache (a run's checks
    and its sources read the same file; a sweep checks every config before it runs any)."""
    return tuple((str(p), *((p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else ())) for p in paths)


def column_labels(config, me) -> tuple[dict[str, tuple], str]:
    """`column:NAME`: the task file's column NAME (`column:p_*`: its p_<class> columns)."""
    name = me.argument
    path = Path(config.task.task)
    if not path.is_file():
        raise UserError(
            f"--weak-labels column:{name} needs a task file, but {config.task.task!r} is a named task",
            "pass --task with your CSV/TSV/JSONL file, or --weak-labels file:PREDICTIONS",
        )
    return _column_labels(name, path, config.task.text_column, _stamp(path))


@functools.lru_cache(maxsize=4)
def _column_labels(name: str, path: Path, text_column: str, stamp: tuple) -> tuple[dict[str, tuple], str]:
    df = read_table(path)
    names = [c for c in df.columns if str(c).startswith("p_")] if name == PROBABILITY_COLUMNS else [name]
    if not names or any(n not in df.columns for n in names):
        raise UserError(
            f"{path} has no weak-label column {name!r}; its columns are {list(map(str, df.columns))}",
            "pass --weak-labels column:NAME with one of those names (or column:p_* for p_<class> columns)",
        )
    where = f"{path}'s column {name!r}"
    by_text = _by_text(df[text_column], _cells(df[names], where), where)
    return by_text | {"\0per_class": name == PROBABILITY_COLUMNS}, file_digest(path)


def file_labels(config, me) -> tuple[dict[str, tuple], str]:
    """`file:PATH`: a predictions file, matched by id (where both files have `id`) or by text."""
    path = Path(me.argument)
    if not path.is_file() or path.suffix.lower() not in (".csv", ".tsv", ".jsonl"):
        raise UserError(
            f"weak-label file {path} does not exist or is not .csv, .tsv or .jsonl",
            "pass --weak-labels file:PATH with a CSV/TSV/JSONL of predictions",
        )
    task_path = Path(config.task.task)
    return _file_labels(path, task_path, config.task.text_column, _stamp(path, task_path))


@functools.lru_cache(maxsize=4)
def _file_labels(path: Path, task_path: Path, text_column: str, stamp: tuple) -> tuple[dict[str, tuple], str]:
    df = read_table(path)
    per_class = [c for c in df.columns if str(c).startswith("p_")]
    value = next((c for c in VALUE_COLUMNS if c in df.columns), None)
    others = [c for c in df.columns if c not in ("id", text_column)]
    value = value or (others[0] if len(others) == 1 else None)
    if value is None and not per_class:
        raise UserError(
            f"{path} has no weak-label column; its columns are {list(map(str, df.columns))}",
            f"name it one of {', '.join(VALUE_COLUMNS)}, or give one p_<class> column per class",
        )
    names = per_class or [value]
    where = f"{path}'s column{'s' if per_class else ''} {', '.join(map(repr, names))}"
    values = _cells(df[names], where)
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
    return _by_text(texts, values, where) | {"\0per_class": bool(per_class)}, file_digest(path)


def matched(config, task, read, me) -> tuple[np.ndarray, np.ndarray, str]:
    """(n, K) class probabilities per pool and per test text (NaN rows where the file has none)
    and the file's digest; refuses a file that labels too few of the pool. A run's check and its
    source both call it."""
    by_text, digest = read(config, me)
    where = f"{'--weak-labels' if me.name == 'weak' else me.name} {me.spec}"
    pool = probabilities(by_text, task.pool.texts, task.space, where)
    test = probabilities(by_text, task.test.texts, task.space, where)
    labeled = ~np.isnan(pool).any(axis=1)
    if labeled.mean() < MIN_MATCHED:
        raise UserError(
            f"{where} labels {int(labeled.sum())} of the pool's {len(pool)} "
            f"texts (at least {MIN_MATCHED:.0%} needed)",
            "check that the file's ids or texts are the task's (texts must match exactly)",
        )
    return pool, test, digest


def _sold(probs: np.ndarray) -> np.ndarray:
    """The (n, K) float32 labels a source sells (rows without a label are never sold: uniform): two
    classes from P(1) in float32, P(0) = 1 - P(1), as the binary loss always computed it."""
    probs = np.where(np.isnan(probs), 1 / probs.shape[1], probs)
    return from_p1(probs[:, 1]) if probs.shape[1] == 2 else probs.astype(np.float32)


def build(setup: Setup, read) -> Fixed:
    cfg = setup.config
    pool, test, digest = matched(cfg, setup.task, read, setup.me)
    labeled = ~np.isnan(pool).any(axis=1)
    spec = setup.me.spec
    offer = setup.offer[labeled[setup.offer]]
    if len(offer) < setup.limit:
        raise UserError(
            f"{'--weak-labels' if setup.me.name == 'weak' else setup.me.name} {spec} has {len(offer)} labels "
            "on this run's side of the pool, "
            f"{setup.limit} needed",
            "lower the budget or the weak share, or label more rows",
        )
    notes = [f"weak labels from {spec} (content {digest})"]
    if not labeled.all():
        notes.append(
            f"{int((~labeled).sum())} of {len(pool)} pool texts have no weak label and are never sold"
        )
    source = Fixed(setup.me.name, setup.me.price, setup.limit, _sold(pool), offer)
    source.info = WeakInfo(
        test if not np.isnan(test).all() else None, stable_hash([spec, digest]), tuple(notes)
    )
    return source


for _name, _read, _description in (
    (
        "column:",
        column_labels,
        "weak labels from a column of the task file: column:NAME (class names or ids; P(1) for two "
        "classes) or column:p_* (a p_<class> column per class)",
    ),
    ("file:", file_labels, "weak labels from a predictions file matched by id or text: file:PATH"),
):
    register_source(
        SourceSpec(
            _name,
            "weak",
            _description,
            lambda s, r=_read: build(s, r),
            check=lambda config, task, me, r=_read: matched(config, task, r, me),  # its result unused
        )
    )
