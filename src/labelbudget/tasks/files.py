"""The user's own labeled file: CSV, TSV or JSONL with a text column and a label column."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from labelbudget.config import TaskConfig
from labelbudget.tasks.prepare import Labeled
from labelbudget.util.errors import UserError

MISSING = {"", "nan", "none", "null", "na", "n/a"}
"""Cell values that mean "no value" (after stripping, any case): dropped and counted, never kept
as text or read as a label."""


def read_table(path: Path, header: bool = True) -> pd.DataFrame:
    """A CSV/TSV/JSONL file as strings. Without a `header` row, a CSV/TSV's columns are named
    `text` and `label` (two columns) or `column1`, `column2`, ..."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            return _read_jsonl(path)
        if header:
            _check_header(path, "\t" if suffix == ".tsv" else ",")
        df = pd.read_csv(
            path,
            sep="\t" if suffix == ".tsv" else ",",
            dtype=str,
            keep_default_na=False,
            quoting=3 if suffix == ".tsv" else 0,
            header=0 if header else None,
        )
        if not header:
            n = df.shape[1]
            df.columns = ["text", "label"] if n == 2 else [f"column{i + 1}" for i in range(n)]
        return df
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise UserError(
            f"could not parse {path} as {suffix[1:].upper()}: {' '.join(str(e).split())}",
            "check that the file is well-formed (UTF-8, one record per line, consistent columns)",
        ) from e


def _check_header(path: Path, sep: str) -> None:
    """Two columns of one name would be read as `name` and `name.1`, the second silently unused."""
    import csv

    with path.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f, delimiter=sep), [])
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise ValueError(f"its header names the column {twice[0]!r} twice; rename one of them")


def looks_like_data(names: list[str], label_map: dict[str, int]) -> bool:
    """Whether a header row reads like a data row: a name that is a sentence (long, or several
    words), a number, or one of the labels being mapped."""

    def number(x: str) -> bool:
        try:
            float(x)
        except ValueError:
            return False
        return True

    return any(len(n) > 40 or n.count(" ") >= 3 or number(n) or n in label_map for n in names)


def _unique_keys(number: int):
    def hook(pairs: list) -> dict:
        keys = [k for k, _ in pairs]
        if twice := sorted({k for k in keys if keys.count(k) > 1}):
            raise ValueError(f"line {number}: the key {twice[0]!r} is given twice")
        return dict(pairs)

    return hook


def _read_jsonl(path: Path) -> pd.DataFrame:
    """One JSON object per line; an error names its line (pandas gives a character offset)."""
    rows = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line, object_pairs_hook=_unique_keys(number))
            except json.JSONDecodeError as e:
                raise ValueError(f"line {number}: {e.msg} (column {e.colno})") from e
            except RecursionError as e:
                raise ValueError(f"line {number}: nested too deeply") from e
            if not isinstance(row, dict):
                raise ValueError(f"line {number}: expected a JSON object, got {type(row).__name__}")
            rows.append(row)
    return pd.DataFrame(rows)


def _missing(values: pd.Series) -> np.ndarray:
    return (values.isna() | values.astype(str).str.strip().str.lower().isin(MISSING)).to_numpy()


BINARY = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "False": 0, "True": 1}
"""Labels read as the two classes 0 and 1 (as spreadsheets and pandas write them)."""

MAX_CLASSES = 50
"""More distinct labels than this without `--classes` or `--label-map` is taken for a wrong
column (texts, scores), not a task: refused with the count."""


def _integer(value: str) -> int | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if number == int(number) else None


def to_classes(
    raw: pd.Series, label_map: dict[str, int], classes: tuple[str, ...], path: Path
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], list[str]]:
    """Class ids of the raw labels, the mask of kept rows, the class names in id order, notes.

    - `label_map`: raw labels to ids 0..K-1, several labels to one id merging classes (named by
      `classes`, else by the raw labels it merges); rows with other labels are dropped, counted;
    - else `classes` names the classes in order, and a label is a name or an id;
    - else 0/1 labels are the paper's two classes; other labels are the class names, sorted (as
      numbers where they are integers: star ratings 1-5 are five classes in their order)."""
    values = raw.astype(str).str.strip()
    seen = sorted(values.unique().tolist())
    if label_map:
        absent = sorted(set(label_map) - set(values))
        if absent:
            raise UserError(
                f"--label-map names labels that {path} does not contain: {absent}; its labels are "
                + ", ".join(repr(v) for v in seen[:8])
                + (" ..." if len(seen) > 8 else ""),
                "map the file's own label values (exact spelling and case) to class ids 0, 1, ...",
            )
        mapped = values.map(label_map)
        kept = mapped.notna().to_numpy()
        k = max(label_map.values()) + 1
        names = tuple(classes) or tuple(
            " or ".join(sorted(r for r, c in label_map.items() if c == i)) for i in range(k)
        )
        labels = mapped[kept].to_numpy(dtype=np.int64)
        notes = []
        if (~kept).any():
            dropped = values[~kept].value_counts()
            shown = ", ".join(f"{v!r} {n:,}" for v, n in dropped.head(5).items())
            notes.append(f"dropped {int((~kept).sum())} rows whose label is not in --label-map ({shown})")
        for c in range(k):
            merged = sorted(r for r, i in label_map.items() if i == c)
            shown = ", ".join(f"{n!r} {int((values[kept] == n).sum()):,}" for n in merged)
            notes.append(f"class {c} after --label-map: {int((labels == c).sum()):,} rows ({shown})")
        return labels, kept, names, notes
    if classes:
        index = {name: i for i, name in enumerate(classes)} | {str(i): i for i in range(len(classes))}
        unknown = sorted(set(values) - set(index))
        if unknown:
            raise UserError(
                f"{path} has labels that are none of --classes {list(classes)} (nor their ids 0-"
                f"{len(classes) - 1}): "
                + ", ".join(repr(v) for v in unknown[:6])
                + (" ..." if len(unknown) > 6 else ""),
                "list every class in --classes, or map the labels with --label-map",
            )
        return values.map(index).to_numpy(dtype=np.int64), np.ones(len(values), bool), tuple(classes), []
    if set(values) <= set(BINARY):
        return values.map(BINARY).to_numpy(dtype=np.int64), np.ones(len(values), bool), ("0", "1"), []
    numbers = {v: _integer(v) for v in seen}
    if all(n is not None for n in numbers.values()):
        seen = sorted(seen, key=lambda v: numbers[v])
        names = tuple(str(numbers[v]) for v in seen)
    else:
        names = tuple(seen)
    if len(names) > MAX_CLASSES:
        shown = ", ".join(repr(v) for v in seen[:6]) + " ..."
        raise UserError(
            f"labels in {path} take {len(names)} distinct values ({shown}): more classes than "
            f"{MAX_CLASSES}, so this looks like another column than the labels",
            "check --label-column (and --text-column); for a task of that many classes name them with "
            "--classes, or merge them with --label-map",
        )
    index = {v: i for i, v in enumerate(seen)}
    return values.map(index).to_numpy(dtype=np.int64), np.ones(len(values), bool), names, []


def load_file(cfg: TaskConfig) -> tuple[Labeled, tuple[str, ...], tuple[str, ...]]:
    """(the file's labeled texts, notes, the class names in id order)."""
    path = Path(cfg.task)
    if not path.is_file():
        raise UserError(
            f"task file {path} does not exist",
            "check the path, or use a registered task name (`labelbudget list`)",
        )
    if path.suffix.lower() not in (".csv", ".tsv", ".jsonl"):
        raise UserError(
            f"task file {path} has an unknown type {path.suffix!r}", "use a .csv, .tsv or .jsonl file"
        )
    df = read_table(path, cfg.header)
    roles = [("text", cfg.text_column)] + ([] if cfg.unlabeled else [("label", cfg.label_column)])
    for role, column in roles:
        if column not in df.columns:
            names = list(map(str, df.columns))
            if cfg.header and path.suffix.lower() != ".jsonl" and looks_like_data(names, cfg.label_map):
                two = len(names) == 2
                raise UserError(
                    f"{path} has no {role} column {column!r}, and its first row looks like data, not "
                    f"column names ({names}): the file seems to have no header row",
                    "pass --no-header; its columns are then named "
                    + (
                        "text and label"
                        if two
                        else "column1, column2, ... (pass --text-column and --label-column)"
                    ),
                )
            raise UserError(
                f"{path} has no {role} column {column!r}; its columns are {names}",
                f"pass --{role}-column with one of those names",
            )
    if cfg.unlabeled:  # every row's label unknown (`tasks.gold`): the label column is not read
        no_text = _missing(df[cfg.text_column])
        texts = df[cfg.text_column][~no_text].astype(str).str.strip().tolist()
        dropped = f"dropped {int(no_text.sum())} rows with empty or missing text"
        names = tuple(cfg.classes) or ("0", "1")
        return (
            Labeled(texts, np.full(len(texts), -1, dtype=np.int64)),
            (dropped,) if no_text.any() else (),
            names,
        )
    df = df[[cfg.text_column, cfg.label_column]]
    no_text, no_label = _missing(df[cfg.text_column]), _missing(df[cfg.label_column])
    keep = ~(no_text | no_label)
    texts = df[cfg.text_column][keep].astype(str).str.strip()
    labels, kept, names, class_notes = to_classes(
        df[cfg.label_column][keep], cfg.label_map, tuple(cfg.classes), path
    )
    notes = []
    if no_text.any():
        notes.append(f"dropped {int(no_text.sum())} rows with empty or missing text (e.g. NaN, None)")
    if (no_label & ~no_text).any():
        n, total = int((no_label & ~no_text).sum()), len(df)
        notes.append(
            f"dropped {n} rows with a missing label"
            + (" (if your file has no gold labels yet, pass --unlabeled)" if n > total / 2 else "")
        )
    notes += class_notes
    if len(names) > 2 and not cfg.label_map:
        counts = np.bincount(labels, minlength=len(names))
        notes.append("classes: " + ", ".join(f"{n} {c:,}" for n, c in zip(names, counts, strict=True)))
    return Labeled(texts[kept].tolist(), labels), tuple(notes), names
