"""The user's own labeled file: CSV, TSV or JSONL with a text column and a label column.

Every file labelbudget reads as a table (task files, test files, labels files, predictions
files, `predict`'s input) is scanned first (`scan`): a workbook or UTF-16 file saved under a
.csv name, a NUL byte, a line too long to read into memory, or a carriage return that would
split a CSV row are refused with what they are, instead of being parsed into rows that are not
the file's.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd

from labelbudget.config import TaskConfig
from labelbudget.tasks.labels import is_number, to_classes
from labelbudget.tasks.prepare import Labeled
from labelbudget.util.errors import UserError, short

MISSING = {"", "nan", "none", "null", "na", "n/a"}
"""Cell values that mean "no value" (after stripping, any case): dropped and counted, never kept
as text or read as a label."""


MAX_CONFLICTS = 0.01
"""The largest share of a file's distinct texts that may carry both labels, each then dropped
with every copy (real data has a few: SST-2's training split 3 of 60,614 rows); more is a file
whose label column does not label its texts, refused."""


MAX_LINE_BYTES = 8 << 20
"""The longest line a table may have: a text thousands of times longer than any model here
reads. A longer line is a broken file (a missing line break, a binary), and reading it whole
would take memory without bound (a 1 GB line took 5.7 GB before failing)."""

CHUNK = 1 << 20


def scan(path: Path) -> None:
    """Refuse, before parsing, what a table reader would silently misread (module docstring)."""
    with path.open("rb") as f:
        start = f.read(4)
        if start.startswith(b"PK\x03\x04"):
            raise UserError(
                f"{path} is a zip archive (a spreadsheet workbook such as .xlsx or .ods?), not "
                f"{path.suffix[1:].upper() or 'a text table'}",
                "in the spreadsheet, save as CSV (File > Save As > CSV UTF-8) and pass that file",
            )
        if start.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise UserError(
                f"{path} is UTF-16 text; labelbudget reads UTF-8",
                "save the file as UTF-8 (e.g. CSV UTF-8 in a spreadsheet, or iconv -f UTF-16 -t UTF-8)",
            )
        f.seek(0)
        line, length, lone_cr, tail = 1, 0, False, b""
        for chunk in iter(lambda: f.read(CHUNK), b""):
            if b"\0" in chunk:
                at = line + chunk[: chunk.index(b"\0")].count(b"\n")
                raise UserError(
                    f"{path} holds a NUL byte (line {at}): no text contains one; the file is binary "
                    "or not UTF-8 (UTF-16 without its byte-order mark?)",
                    "save the file as UTF-8 text, or remove the NUL bytes",
                )
            parts = chunk.split(b"\n")
            sizes = [length + len(parts[0]), *map(len, parts[1:])]
            if max(sizes) > MAX_LINE_BYTES:
                at = line + next(i for i, n in enumerate(sizes) if n > MAX_LINE_BYTES)
                raise UserError(
                    f"{path} has a line longer than {MAX_LINE_BYTES:,} bytes (line {at}): too long for "
                    "a text; a line break is missing or the file is not a table",
                    "check the file (one record per line, texts of at most a few thousand words)",
                )
            length = sizes[-1]
            line += len(parts) - 1
            data = tail + chunk  # a \r at a chunk's end may belong to a \r\n across the boundary
            data, tail = (data[:-1], b"\r") if data.endswith(b"\r") else (data, b"")
            lone_cr = lone_cr or data.count(b"\r") != data.count(b"\r\n")
    if lone_cr and line > 1 and path.suffix.lower() in (".csv", ".tsv"):  # not \r-only line ends
        _refuse_split_rows(path)


def _refuse_split_rows(path: Path) -> None:
    """A carriage return alone (not before a line feed) outside quotes ends a CSV row there, so
    the rest of the row shifts into the next one: labels become texts. pandas writes texts that
    hold one that way (it quotes a field for a line feed, not for a carriage return)."""
    tsv = path.suffix.lower() == ".tsv"
    newline_lines, last = 1, ""

    def lines():
        nonlocal newline_lines, last
        with path.open(encoding="utf-8", errors="replace", newline="") as f:
            for text in f:  # with newline="", a lone \r ends a line of its own, kept in it
                last = text
                yield text
                newline_lines += text.endswith("\n")

    reader = csv.reader(lines(), delimiter="\t" if tsv else ",", quoting=csv.QUOTE_NONE if tsv else 0)
    for row in reader:
        if row and last.endswith("\r"):  # a row cut short (a lone \r between rows only skips a line)
            raise UserError(
                f"{path} has a carriage return (\\r) inside a text on line {newline_lines}, outside "
                "quotes: a CSV reader ends the row there, so the rest of the row would be read as "
                "another row",
                "write the file with its texts quoted (pandas: df.to_csv(path, index=False, "
                "quoting=csv.QUOTE_NONNUMERIC)), write it as JSONL, or remove the carriage returns"
                + (" (TSV has no quoting: use CSV or JSONL)" if tsv else ""),
            )


def read_table(path: Path, header: bool = True, keep_blank: bool = False) -> pd.DataFrame:
    """A CSV/TSV/JSONL file as strings (checked first: `scan`). Without a `header` row, a
    CSV/TSV's columns are named `text` and `label` (two columns) or `column1`, `column2`, ...
    With `keep_blank`, an empty line of a CSV/TSV is a row (of empty cells), as a person counts
    rows, instead of being skipped."""
    suffix = path.suffix.lower()
    scan(path)
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
            skip_blank_lines=not keep_blank,
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
    with path.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f, delimiter=sep), [])
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise ValueError(f"its header names the column {twice[0]!r} twice; rename one of them")


def looks_like_data(names: list[str], label_map: dict[str, int]) -> bool:
    """Whether a header row reads like a data row: a name that is a sentence (long, or several
    words), a number, or one of the labels being mapped."""

    return any(len(n) > 40 or n.count(" ") >= 3 or is_number(n) or n in label_map for n in names)


def _unique_keys(number: int):
    def hook(pairs: list) -> dict:
        keys = [k for k, _ in pairs]
        if twice := sorted({k for k in keys if keys.count(k) > 1}):
            raise ValueError(f"line {number}: the key {twice[0]!r} is given twice")
        return dict(pairs)

    return hook


def _read_jsonl(path: Path) -> pd.DataFrame:
    """One JSON object per line; an error names its line (pandas gives a character offset). A
    byte-order mark (Windows editors write one) is not part of the first line."""
    rows = []
    with path.open(encoding="utf-8-sig") as f:
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


def column(df: pd.DataFrame, name: str, path: Path) -> pd.Series:
    """A column read as text: a JSON list or object in it is refused (its Python repr is not
    the row's text or label), and so is a NUL character (JSON can escape one: \\u0000)."""
    values = df[name]
    nested = values.map(lambda v: isinstance(v, list | dict)).to_numpy()
    if nested.any():
        first = int(np.flatnonzero(nested)[0])
        kind = "list" if isinstance(values.iloc[first], list) else "object"
        raise UserError(
            f"{path}: {int(nested.sum())} rows hold a JSON {kind} in the column {name!r}, not a "
            f"value (e.g. row {first + 1}: {short(values.iloc[first], 60)})",
            f"write each row's {name!r} as one string (or number)",
        )
    nul = values.map(lambda v: isinstance(v, str) and "\0" in v).to_numpy()
    if nul.any():
        raise UserError(
            f"{path}: {int(nul.sum())} values of the column {name!r} hold a NUL character "
            f"(e.g. row {int(np.flatnonzero(nul)[0]) + 1}); no text contains one",
            "remove the NUL characters (\\u0000) from the file",
        )
    return values


def missing(values: pd.Series) -> np.ndarray:
    """Which cells hold no value (NaN, None, empty or blank, a `MISSING` marker)."""
    return (values.isna() | values.astype(str).str.strip().str.lower().isin(MISSING)).to_numpy()


def load_file(
    cfg: TaskConfig,
) -> tuple[Labeled, tuple[str, ...], tuple[str, ...], dict[str, tuple[str, str]]]:
    """(the file's labeled texts, notes, the class names in id order, `origin`: each text's row)."""
    path = Path(cfg.task)
    if not path.is_file():
        raise UserError(
            f"task file {path} " + ("is a folder" if path.is_dir() else "does not exist"),
            "check the path, or use a registered task name (`labelbudget list`)",
        )
    if path.suffix.lower() not in (".csv", ".tsv", ".jsonl"):
        raise UserError(
            f"task file {path} has an unknown type {path.suffix!r}", "use a .csv, .tsv or .jsonl file"
        )
    df = read_table(path, cfg.header)
    roles = [("text", cfg.text_column)] + ([] if cfg.unlabeled else [("label", cfg.label_column)])
    for role, name in roles:
        if name not in df.columns:
            names = list(map(str, df.columns))
            if cfg.header and path.suffix.lower() != ".jsonl" and looks_like_data(names, cfg.label_map):
                two = len(names) == 2
                raise UserError(
                    f"{path} has no {role} column {name!r}, and its first row looks like data, not "
                    f"column names ({names}): the file seems to have no header row",
                    "pass --no-header; its columns are then named "
                    + (
                        "text and label"
                        if two
                        else "column1, column2, ... (pass --text-column and --label-column)"
                    ),
                )
            raise UserError(
                f"{path} has no {role} column {name!r}; its columns are {names}",
                f"pass --{role}-column with one of those names",
            )
    if cfg.unlabeled:  # every row's label unknown (`tasks.gold`): the label column is not read
        no_text = missing(column(df, cfg.text_column, path))
        texts = df[cfg.text_column][~no_text].astype(str).str.strip().tolist()
        dropped = f"dropped {int(no_text.sum())} rows with empty or missing text"
        names = tuple(cfg.classes) or ("0", "1")
        rows, id_note = origin(df, cfg.text_column, ~no_text)
        return (
            Labeled(texts, np.full(len(texts), -1, dtype=np.int64)),
            ((dropped,) if no_text.any() else ()) + id_note,
            names,
            rows,
        )
    full, df = df, df[[cfg.text_column, cfg.label_column]]
    no_text = missing(column(df, cfg.text_column, path))
    no_label = missing(column(df, cfg.label_column, path))
    keep = ~(no_text | no_label)
    rows, id_note = origin(full, cfg.text_column, keep)
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
    notes += [*class_notes, *id_note]
    if len(names) > 2 and not cfg.label_map:
        counts = np.bincount(labels, minlength=len(names))
        notes.append("classes: " + ", ".join(f"{n} {c:,}" for n, c in zip(names, counts, strict=True)))
    texts, labels, note = _without_conflicts(texts[kept].tolist(), labels, path)
    return Labeled(texts, labels), (*notes, *note), names, rows


ID_COLUMN = "id"
"""A task file's column of row ids, where it has one: a request to label rows names them by it."""


def origin(
    df: pd.DataFrame, text_column: str, keep: np.ndarray
) -> tuple[dict[str, tuple[str, str]], tuple[str, ...]]:
    """text as the task reads it (stripped) -> (the row's id in the file, its text as written), over
    the rows the task keeps: what a labeling request names a row by and shows; and a note where the
    file's ids cannot be used. The id is the file's `id` column where its values are present and
    unique, else the row's number among the file's rows of data (1: the first); a text on several
    rows is named by the first."""
    ids, note = None, ()
    if ID_COLUMN in df.columns:
        ids = df[ID_COLUMN].astype(str).str.strip()
        if missing(ids).any() or ids.duplicated().any():
            ids = None
            note = (
                f"the `{ID_COLUMN}` column has empty or repeated values: requests to label name rows "
                "by their row number among the file's rows of data (1: the first)",
            )
    if ids is None:
        ids = pd.Series([str(i + 1) for i in range(len(df))], index=df.index)
    out: dict[str, tuple[str, str]] = {}
    for i, text in zip(ids[keep], df[text_column][keep], strict=True):
        out.setdefault(str(text).strip(), (i, str(text)))
    return out, note


def _without_conflicts(
    texts: list[str], labels: np.ndarray, path: Path
) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    """The rows whose text the file gives one label: a text given two is dropped with every
    copy (keeping either label would train or test on a label the file does not give), and said;
    beyond `MAX_CONFLICTS` of the distinct texts the file is refused."""
    spread = pd.DataFrame({"text": texts, "label": labels}).groupby("text")["label"].nunique()
    both = spread.index[spread > 1]
    if len(both) == 0:
        return texts, labels, ()
    example = short(both[0], 60)
    if len(both) > MAX_CONFLICTS * len(spread):
        raise UserError(
            f"{path} gives {len(both):,} of its {len(spread):,} distinct texts more than one label "
            f"(e.g. {example}): its label column does not label its texts",
            "check --label-column and --label-map; give each text one label (identical rows "
            "with the same label are fine: they are dropped as duplicates)",
        )
    keep = ~pd.Series(texts).isin(set(both)).to_numpy()
    kept = [t for t, k in zip(texts, keep, strict=True) if k]
    rows = int((~keep).sum())
    note = f"dropped {len(both)} texts that the file gives more than one label ({rows} rows, e.g. {example})"
    return kept, labels[keep], (note,)
